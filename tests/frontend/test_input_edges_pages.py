"""Edges of the restricted-list page's inputs: a symbol or reason with a character that cannot be seen
is refused naming it (as the imports and the API name it), and a from date outside the product's
bounds (from 1900-01-01 to five years ahead) or not written YYYY-MM-DD is refused; nothing written."""

import html
import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import RestrictedSecurity

pytestmark = pytest.mark.django_db

PAGE = "/restricted/"


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _add(client, **values):
    return client.post(PAGE, {"action": "add", "symbol": "VTI", "restriction": "do_not_buy",
                              "reason": "Deal team on the issuer", "starts_on": timezone.localdate().isoformat(),
                              "until": "", **values})


@pytest.mark.parametrize(("values", "problem"), [
    ({"symbol": "VT\u200bI"}, "The symbol 'VT\\u200bI' contains zero width space (U+200B) at position 3, which cannot "
                              "be seen; remove it."),
    ({"symbol": "VTI\u202e"}, "The symbol 'VTI\\u202e' contains right-to-left override (U+202E) at position 4"),
    ({"reason": "Deal\u200b team"}, "The reason it is restricted 'Deal\\u200b team' contains zero width space (U+200B) "
                                    "at position 5"),
    ({"starts_on": "0001-01-01"}, "The from date 0001-01-01 is before 1900-01-01, the book's first day"),
    ({"starts_on": "1899-01-01"}, "The from date 1899-01-01 is before 1900-01-01, the book's first day"),
    ({"starts_on": "9999-12-31"}, "The from date 9999-12-31 is more than 5 years ahead (after "),
    ({"starts_on": "20261206"}, "The from date '20261206' is not a date (YYYY-MM-DD)."),
], ids=["zero-width-symbol", "bidi-symbol", "zero-width-reason", "year-1", "1899", "9999", "basic-iso"])
def test_a_refused_entry_names_the_problem_and_writes_nothing(firm_a, book, as_user, values, problem):
    response = _add(as_user("compliance"), **values)

    assert response.status_code == 400 and problem in text(response), text(response)[:3000]
    with tenant_context(firm_a):
        assert not RestrictedSecurity.objects.exists()


def test_a_reason_keeps_its_line_breaks(firm_a, book, as_user):
    response = _add(as_user("compliance"), reason="Deal team\r\non the issuer")

    assert response.status_code == 302
    with tenant_context(firm_a):
        assert RestrictedSecurity.objects.get().reason == "Deal team\r\non the issuer"


def test_a_far_future_entry_no_longer_blocks_a_correct_one(firm_a, book, as_user):
    # Given the 9999-12-31 entry the list once took, refused now ...
    client = as_user("compliance")
    assert _add(client, starts_on="9999-12-31").status_code == 400
    # ... the correct entry of the same security is taken
    assert _add(client).status_code == 302
    with tenant_context(firm_a):
        assert RestrictedSecurity.objects.get().starts_on == timezone.localdate()
