"""A setting naming a security the firm's security master does not hold - a restriction of
"ZZZZZ", a screen of "APPL" typed for AAPL - is refused where a template, a household's overrides
or an account's overrides are saved, naming the setting and the symbol (and the close ones the
master holds), and nothing is written; before, it was saved and enforced nothing, every day.
Symbols are read as the restricted list reads them: in capitals."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, ParameterTemplate, Security
from rebalancing.services.book import household_overrides_set, template_save
from rebalancing.services.previews import account_overrides_save
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed

from .book import make_book

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@symbols.example", "firm_admin")


@pytest.fixture
def book(firm_a):
    with tenant_context(firm_a):
        made = make_book(1)
        Security.objects.create(symbol="AAPL", name="Apple", asset_class="us_equity")
        template = made["template"]
        template.overridable = {"screen": {}, "restrictions": {}, "harvest": {}, "transition": {}, "wash_sale": {},
                                "instructions": {}, "cash.target": {"min": 0, "max": 0.05}}
        template.save()
        yield made


def _audits() -> int:
    return AuditEvent.objects.count()


# Every setting that names securities, each given one unknown symbol beside a known one.
NAMED = [
    ({"restrictions": {"do_not_buy": ["VTI", "ZZZZZ"]}}, "restrictions.do_not_buy", "ZZZZZ"),
    ({"restrictions": {"do_not_sell": ["ZZZZZ"]}}, "restrictions.do_not_sell", "ZZZZZ"),
    ({"restrictions": {"hold": ["ZZZZZ"]}}, "restrictions.hold", "ZZZZZ"),
    ({"screen": {"enabled": True, "excluded_symbols": ["APPL"]}}, "screen.excluded_symbols", "APPL"),
    ({"harvest": {"enabled": True, "substitutes": {"ZZZZZ": "ITOT"}}}, "harvest.substitutes", "ZZZZZ"),
    ({"harvest": {"enabled": True, "substitutes": {"VTI": "ITOTT"}}}, "harvest.substitutes", "ITOTT"),
    ({"transition": {"enabled": True, "substitutes": {"ZZZZZ": "VTI"}}}, "transition.substitutes", "ZZZZZ"),
    ({"wash_sale": {"equivalent_groups": [["VTI", "ZZZZZ"]]}}, "wash_sale.equivalent_groups", "ZZZZZ"),
    ({"instructions": [{"kind": "sell_buy", "sell": "VTI", "buy": "ZZZZZ"}]}, "instructions.1.buy", "ZZZZZ"),
]


@pytest.mark.parametrize(("parameters", "path", "symbol"), NAMED, ids=[p for _, p, _ in NAMED])
def test_a_template_naming_an_unknown_security_is_refused_new_or_changed(firm_a, book, admin, parameters, path,
                                                                          symbol):
    with tenant_context(firm_a):
        before, audits = book["template"].parameters, _audits()

        # When a new template names it, or the standard template is changed to name it
        with pytest.raises(ValidationFailed) as new:
            template_save(user=admin, code="typo", name="Typo", parameters=parameters, overridable={})
        with pytest.raises(ValidationFailed) as changed:
            template_save(user=admin, code="standard", name="Standard", parameters=parameters, overridable={},
                          template=book["template"])

        # Then both are refused naming the setting and the symbol, and nothing is written
        for refused in (new, changed):
            assert f"({path}) names {symbol}" in refused.value.message
            assert "not in the firm's security master" in refused.value.message
            assert refused.value.detail["field"] == "parameters"
            assert refused.value.detail["unknown_symbols"] == {path: [symbol]}
        assert not ParameterTemplate.objects.filter(code="typo").exists()
        book["template"].refresh_from_db()
        assert book["template"].parameters == before and _audits() == audits


def test_a_typo_is_refused_with_the_close_symbols_the_master_holds(firm_a, book, admin):
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed) as refused:
            template_save(user=admin, code="esg", name="ESG", overridable={},
                          parameters={"screen": {"enabled": True, "excluded_symbols": ["APPL", "XLE9"]}})
    assert refused.value.message.startswith(
        "Template parameters refused: “ESG / values screens: excluded securities” (screen.excluded_symbols) names "
        "APPL (did you mean AAPL?), XLE9: these are not in the firm's security master")
    assert refused.value.detail["suggestions"] == {"APPL": ["AAPL"]}
    assert refused.value.detail["parameter"] == "screen.excluded_symbols"


def test_a_households_overrides_naming_an_unknown_security_are_refused(firm_a, book, admin):
    with tenant_context(firm_a):
        household = Household.objects.get(accounts=book["accounts"][0])
        audits = _audits()
        with pytest.raises(ValidationFailed) as refused:
            household_overrides_set(household=household, user=admin,
                                    overrides={"restrictions": {"do_not_buy": ["ZZZZZ"]}})
        household.refresh_from_db()
        assert household.overrides == {} and _audits() == audits
    assert f"Household {household.name}'s overrides refused" in refused.value.message
    assert "(restrictions.do_not_buy) names ZZZZZ" in refused.value.message
    assert refused.value.detail["field"] == "overrides"


def test_an_accounts_overrides_naming_an_unknown_security_are_refused(firm_a, book, admin):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        audits = _audits()
        with pytest.raises(ValidationFailed) as refused:
            account_overrides_save(account=account, user=admin,
                                   overrides={"screen": {"enabled": True, "excluded_symbols": ["APPL"]}})
        account.refresh_from_db()
        assert account.overrides == {} and _audits() == audits
    assert "Account T-000's overrides refused" in refused.value.message
    assert "(screen.excluded_symbols) names APPL (did you mean AAPL?)" in refused.value.message


def test_symbols_typed_in_small_letters_are_saved_in_the_masters_capitals(firm_a, book, admin):
    # The engine matches symbols exactly: "vti" saved as typed would restrict nothing.
    with tenant_context(firm_a):
        template = template_save(user=admin, code="lower", name="Lower", overridable={}, parameters={
            "restrictions": {"do_not_buy": ["vti", " VTI "]}, "harvest": {"enabled": True, "substitutes": {"vti": "itot"}},
            "wash_sale": {"equivalent_groups": [["bnd", "agg"]]}})
        account = account_overrides_save(account=book["accounts"][0], user=admin,
                                         overrides={"restrictions": {"hold": ["bnd"]}})
        assert Account.objects.get(pk=account.pk).overrides == {"restrictions": {"hold": ["BND"]}}
    assert template.parameters["restrictions"] == {"do_not_buy": ["VTI"]}
    assert template.parameters["harvest"]["substitutes"] == {"VTI": "ITOT"}
    assert template.parameters["wash_sale"] == {"equivalent_groups": [["BND", "AGG"]]}


def test_an_unknown_symbol_saved_before_the_check_does_not_lock_the_template(firm_a, book, admin):
    # Given a template saved (before this check) with a symbol the master does not hold
    with tenant_context(firm_a):
        ParameterTemplate.objects.filter(pk=book["template"].pk).update(
            parameters={"restrictions": {"do_not_buy": ["OLDX"]}})
        book["template"].refresh_from_db()

        # When another of its settings is changed, it is saved (the change brings no new unknown symbol)...
        saved = template_save(user=admin, code="standard", name="Standard", overridable={}, template=book["template"],
                              parameters={"restrictions": {"do_not_buy": ["OLDX"]}, "cash": {"target": 0.02}})
        assert saved.parameters["cash"] == {"target": 0.02}

        # ...but a new unknown one is refused
        with pytest.raises(ValidationFailed, match=r"names NEWX"):
            template_save(user=admin, code="standard", name="Standard", overridable={}, template=book["template"],
                          parameters={"restrictions": {"do_not_buy": ["OLDX", "NEWX"]}})


def test_the_api_refuses_an_unknown_symbol_in_a_template_and_in_an_accounts_overrides(firm_a, book, admin,
                                                                                       client_for):
    client = client_for(firm_a, admin)
    with tenant_context(firm_a):
        account = book["accounts"][0]

    created = client.post(f"{API}/templates/", {"code": "typo", "name": "Typo", "overridable": {},
                                                "parameters": {"restrictions": {"do_not_buy": ["ZZZZZ"]}}},
                          content_type="application/json")
    overridden = client.put(f"{API}/accounts/{account.pk}/parameters/",
                            {"overrides": {"screen": {"enabled": True, "excluded_symbols": ["APPL"]}}},
                            content_type="application/json")

    assert created.status_code == 400, created.content
    assert created.json()["detail"]["unknown_symbols"] == {"restrictions.do_not_buy": ["ZZZZZ"]}
    assert "(restrictions.do_not_buy) names ZZZZZ" in created.json()["message"]
    assert overridden.status_code == 400, overridden.content
    assert overridden.json()["detail"]["suggestions"] == {"APPL": ["AAPL"]}
    with tenant_context(firm_a):
        assert not ParameterTemplate.objects.filter(code="typo").exists()
        assert Account.objects.get(pk=account.pk).overrides == {}
