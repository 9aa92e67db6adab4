"""A symbol the security master does not hold, typed into a restriction, a screen or a substitute,
is refused when the parameters are saved, naming it (before: a template's was "saved" with a
warning, and the typo restricted nothing; the API saved it without a word)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_an_advisors_substitute_typed_wrong_is_refused_naming_it(book, as_user, firm_a):
    # Given an advisor giving their account a harvest substitute, the second symbol mistyped
    account = book["mine"][0]
    client = as_user("advisor")
    form = {"p__cash__target": "1", "p__harvest__enabled": "yes", "p__harvest__min_loss_value": "500",
            "p__harvest__min_loss_pct": "5", "p__harvest__substitutes": "VTI = ITOTT",
            "p__trading__lot_selection": "tax_optimal"}

    # When it is saved
    page = text(client.post(f"/accounts/{account.pk}/", form, follow=True))

    # Then it is refused naming the symbol, and nothing is saved: the engine cannot harvest into a
    # security it does not know, so the next run would fail on it (it was saved with a warning)
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert "harvest" not in account.overrides
    assert "Parameters saved" not in page
    assert "“Year-round loss harvesting: substitutes” names ITOTT (did you mean ITOT?): it is not in the firm&#x27;s security " \
           "master" in page and "Nothing was saved." in page

    # ...and a pair of known symbols saves without a word
    page = text(client.post(f"/accounts/{account.pk}/", {**form, "p__harvest__substitutes": "VTI = BND"},
                            follow=True))
    assert "Parameters saved" in page and "Not in the security master" not in page


def test_a_templates_screen_naming_an_unknown_symbol_is_refused_naming_it(book, as_user, firm_a):
    client = as_user("admin")
    form = {"code": "no-oil", "name": "No oil", "p__screen__enabled": "yes",
            "p__screen__excluded_symbols": "XLE, XOMM", "p__screen__rescale": "pro_rata"}

    refused = text(client.post("/templates/new/", form, follow=True))

    assert "Template “No oil” created" not in refused
    assert "(screen.excluded_symbols) names XOMM" in refused and "not in the firm&#x27;s security master" in refused
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="no-oil").exists()
    created = text(client.post("/templates/new/", {**form, "p__screen__excluded_symbols": "XLE"}, follow=True))
    assert "Template “No oil” created" in created and "security master" not in created
