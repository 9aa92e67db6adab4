"""The pages refuse a symbol the security master does not hold where parameters are saved - a
template's screen, an account's harvest substitute - naming the setting and the symbol, and save
nothing (before: saved with a warning, and the typo screened or restricted nothing)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_new_templates_screen_naming_an_unknown_symbol_is_refused(book, as_user, firm_a):
    client = as_user("admin")
    form = {"code": "no-oil", "name": "No oil", "p__screen__enabled": "yes",
            "p__screen__excluded_symbols": "XLE, XOMM", "p__screen__rescale": "pro_rata"}

    refused = client.post("/templates/new/", form)

    page = text(refused)
    assert refused.status_code == 400
    assert "(screen.excluded_symbols) names XOMM" in page and "not in the firm&#x27;s security master" in page
    assert "Nothing was saved." in page
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="no-oil").exists()
    # typed as it was, to be corrected
    assert 'value="XLE, XOMM"' in page


def test_an_accounts_harvest_substitute_naming_an_unknown_symbol_is_refused(book, as_user, firm_a):
    account = book["mine"][0]
    form = {"p__cash__target": "1", "p__harvest__enabled": "yes", "p__harvest__min_loss_value": "500",
            "p__harvest__min_loss_pct": "5", "p__harvest__substitutes": "VTI = ITOTT",
            "p__trading__lot_selection": "tax_optimal"}

    page = text(as_user("advisor").post(f"/accounts/{account.pk}/", form, follow=True))

    assert "Parameters saved" not in page
    assert "Account F-000&#x27;s overrides refused: “Year-round loss harvesting: substitutes” " \
           "names ITOTT (did you mean ITOT?)" in page
    with tenant_context(firm_a):
        account.refresh_from_db()
        assert "harvest" not in account.overrides
