"""The wash-sale groups page saves what it shows: the box holds only groups of two securities or more,
a label only one security carries (an imported index no other fund tracks yet) is left as it is, and
a line of one symbol takes that security out of any group, saying so. Bad input is refused with its
line and symbol, and nothing is half-written."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Security
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PAGE = "/securities/equivalents/"


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def labels(firm) -> dict[str, str]:
    with tenant_context(firm):
        return dict(Security.objects.exclude(equivalence_group="").values_list("symbol", "equivalence_group"))


def box(response) -> str:
    return html.unescape(re.search(r'<textarea id="eq-groups"[^>]*>(.*?)</textarea>', response.content.decode(), re.S).group(1))


def test_the_page_saves_its_own_contents_unchanged(firm_a, book, as_user):
    # Given the book's labels: VTI and ITOT share one (a group); SCHB, BND, AGG, VNQ, XLE have one each
    client, before = as_user("admin"), labels(firm_a)

    # When the firm admin saves the box as the page fills it
    shown = box(client.get(PAGE))
    response = client.post(PAGE, {"groups": shown}, follow=True)

    # Then only the group shows, the save is accepted and nothing changed
    assert shown == "ITOT, VTI"
    assert response.status_code == 200 and "Saved: nothing changed." in text(response)
    assert labels(firm_a) == before
    with tenant_context(firm_a):
        assert not AuditEvent.objects.filter(action="security.equivalents").exists()
    # and the labels of one security are named beside the box, not in it
    assert "Not shown, as no other security shares their group yet (a group needs two): AGG, BND, SCHB, VNQ, XLE" in text(
        response)


def test_a_one_symbol_line_takes_that_security_out_of_any_group(firm_a, book, as_user):
    client = as_user("admin")

    response = client.post(PAGE, {"groups": "ITOT, VTI\nXLE\n"}, follow=True)

    assert "Saved: 1 security changed group. A line of one symbol means no group: XLE is now in none." in text(response)
    assert "XLE" not in labels(firm_a) and labels(firm_a)["VTI"] == "us_total"
    with tenant_context(firm_a):
        event = AuditEvent.objects.get(action="security.equivalents")
    assert event.before["labels"] == {"XLE": "energy"} and event.after["labels"] == {"XLE": ""}


def test_a_new_group_keeps_an_imported_label_and_never_joins_a_security_left_alone(firm_a, book, as_user):
    client = as_user("admin")

    # AGG and BND each carry a label alone: the new group takes its first member's; VNQ, SCHB, XLE keep theirs
    assert client.post(PAGE, {"groups": "AGG, BND\nITOT, VTI"}).status_code == 302

    after = labels(firm_a)
    assert after["AGG"] == after["BND"] == "us_agg_ishares" and after["VTI"] == after["ITOT"] == "us_total"
    assert (after["VNQ"], after["SCHB"], after["XLE"]) == ("reit", "us_broad_schwab", "energy")
    assert box(client.get(PAGE)) == "AGG, BND\nITOT, VTI"


@pytest.mark.parametrize(("typed", "problem"), [
    ("ITOT, VTI\nAGG, NOPE", "Not in the security master: NOPE (line 2). Import them first."),
    ("AGG, BND\nITOT, VTI, BND", "BND is in two groups (lines 1 and 2); merge them"),
    ("ITOT, VTI\n\nXLE, ZZZ", "Not in the security master: ZZZ (line 3)."),
])
def test_bad_input_is_refused_naming_the_line_and_symbol_and_nothing_is_written(firm_a, book, as_user, typed, problem):
    client, before = as_user("admin"), labels(firm_a)

    refused = client.post(PAGE, {"groups": typed})

    assert refused.status_code == 400 and problem in text(refused)
    assert box(refused) == typed  # what was typed stays in the box to be corrected
    assert labels(firm_a) == before
    with tenant_context(firm_a):
        assert not AuditEvent.objects.filter(action="security.equivalents").exists()


def test_a_harvest_substitute_refused_names_its_line(firm_a, book, as_user):
    from rebalancing.services.substitutes import harvest_substitutes_set
    from tests.frontend.test_firm_admin_pages import book_admin

    with tenant_context(firm_a):
        harvest_substitutes_set(pairs={"VTI": "SCHB"}, by=book_admin(firm_a))
    client, before = as_user("admin"), labels(firm_a)

    refused = client.post(PAGE, {"groups": "AGG, BND\nITOT, VTI, SCHB"})

    assert refused.status_code == 400
    assert "Line 2: SCHB is VTI's harvest substitute and may not join its group" in text(refused)
    assert labels(firm_a) == before
