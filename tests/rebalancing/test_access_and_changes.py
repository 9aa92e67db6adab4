"""Who sees which accounts, and the audited services that change the book."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to
from rebalancing.models import Household, Security, Sleeve
from rebalancing.services.book import SleeveSpec, account_overrides_set, model_version_create, template_save
from rebalancing.services.people import advisor_assign, role_grant, role_revoke
from tenants.audit.models import AuditEvent
from tenants.errors import NotFound, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import make_book
from .workflow import make_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def firm(firm_a, firm_user):
    people = {
        "admin": firm_user(firm_a, "admin@acc.example", FirmRole.FIRM_ADMIN),
        "pm": firm_user(firm_a, "pm@acc.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "advisor@acc.example", FirmRole.ADVISOR),
        "colleague": firm_user(firm_a, "colleague@acc.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "compliance@acc.example", FirmRole.COMPLIANCE),
        "nobody": firm_user(firm_a, "nobody@acc.example", FirmRole.ADVISOR),
    }
    people["nobody"].groups.clear()
    with tenant_context(firm_a):
        book = make_book(3)
        mine, theirs = book["accounts"][0], book["accounts"][1]
        advisor_assign(household=mine.household, advisor=people["advisor"], by=people["admin"])
        advisor_assign(household=theirs.household, advisor=people["colleague"], by=people["admin"])
        yield {"people": people, "book": book, "mine": mine, "theirs": theirs}


def test_an_advisor_sees_only_their_households(firm):
    advisor = firm["people"]["advisor"]
    assert list(accounts_visible_to(advisor)) == [firm["mine"]]
    assert list(households_visible_to(advisor)) == [firm["mine"].household]
    make_proposal(firm["theirs"])
    assert not proposals_visible_to(advisor).exists()


@pytest.mark.parametrize("who", ["admin", "pm", "compliance"])
def test_firm_wide_roles_see_every_account(firm, who):
    assert accounts_visible_to(firm["people"][who]).count() == 3


def test_a_user_without_a_role_sees_nothing(firm):
    assert not accounts_visible_to(firm["people"]["nobody"]).exists()


def test_reassigning_a_household_moves_the_permission_and_is_audited(firm):
    people = firm["people"]
    advisor_assign(household=firm["mine"].household, advisor=people["colleague"], by=people["admin"])
    assert not accounts_visible_to(people["advisor"]).exists()
    assert accounts_visible_to(people["colleague"]).count() == 2
    event = AuditEvent.objects.filter(action="household.advisor").first()
    assert (event.before, event.after) == ({"advisors": ["advisor@acc.example"]}, {"advisors": ["colleague@acc.example"]})


def test_only_a_firm_admin_assigns_advisors_and_roles(firm):
    people = firm["people"]
    with pytest.raises(PermissionDenied):
        advisor_assign(household=firm["mine"].household, advisor=people["colleague"], by=people["pm"])
    with pytest.raises(PermissionDenied):
        role_grant(user=people["advisor"], role=FirmRole.COMPLIANCE, by=people["advisor"])
    role_grant(user=people["advisor"], role=FirmRole.COMPLIANCE, by=people["admin"])
    assert AuditEvent.objects.filter(action="user.role.grant", object_id=str(people["advisor"].pk)).exists()
    onboarded_admin = get_user_model().objects.get(username="admin@firm-a.example")
    role_revoke(user=onboarded_admin, role=FirmRole.FIRM_ADMIN, by=people["admin"])
    with pytest.raises(ValidationFailed, match="last admin"):
        role_revoke(user=people["admin"], role=FirmRole.FIRM_ADMIN, by=people["admin"])


def test_an_advisor_changes_own_accounts_within_the_template_only(firm):
    advisor = firm["people"]["advisor"]
    account_overrides_set(account=firm["mine"], overrides={"cash": {"target": 0.03}}, user=advisor)
    event = AuditEvent.objects.get(action="account.parameters", object_id=str(firm["mine"].pk))
    assert event.after == {"overrides": {"cash": {"target": 0.03}}}
    with pytest.raises(ValidationFailed, match="above the template's maximum"):
        account_overrides_set(account=firm["mine"], overrides={"cash": {"target": 0.3}}, user=advisor)
    with pytest.raises(NotFound):
        account_overrides_set(account=firm["theirs"], overrides={"cash": {"target": 0.03}}, user=advisor)
    with pytest.raises(PermissionDenied):
        account_overrides_set(account=firm["mine"], overrides={}, user=firm["people"]["compliance"])


def test_editing_a_model_makes_a_new_audited_version(firm):
    model, admin = firm["book"]["model"], firm["people"]["admin"]
    version = model_version_create(model=model, user=admin, note="drop real estate", sleeves=[
        SleeveSpec("us_equity", Decimal("0.7"), {"VTI": Decimal("0.5"), "ITOT": Decimal("0.5")}),
        SleeveSpec("bonds", Decimal("0.3"), {"BND": Decimal("1")}),
    ])
    assert version.number == 2 and model.current_version == version
    assert sorted(version.sleeves.values_list("asset_class", flat=True)) == ["bonds", "us_equity"]
    assert AuditEvent.objects.get(action="model.version", object_id=str(version.pk)).comment == "drop real estate"


def test_a_bad_model_is_refused_naming_each_problem(firm):
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=firm["book"]["model"], user=firm["people"]["admin"], sleeves=[
            SleeveSpec("us_equity", Decimal("0.6"), {"NOPE": Decimal("1")}),
            SleeveSpec("bonds", Decimal("0.3"), {}, kind=Sleeve.Kind.DIRECT_INDEX),
        ])
    assert refused.value.detail["problems"] == [
        "sleeve weights sum to 0.9, not 1", "unknown symbol 'NOPE'", "sleeve bonds is a direct index but names no benchmark",
    ]
    assert firm["book"]["model"].versions.count() == 1


def test_a_sleeve_holding_a_security_of_another_asset_class_is_refused(firm):
    # BND is a bonds fund: in the us_equity sleeve it would be counted, located and removed as equity
    with pytest.raises(ValidationFailed) as refused:
        model_version_create(model=firm["book"]["model"], user=firm["people"]["admin"], sleeves=[
            SleeveSpec("us_equity", Decimal("0.7"), {"VTI": Decimal("0.8"), "BND": Decimal("0.2")}),
            SleeveSpec("bonds", Decimal("0.3"), {"AGG": Decimal("1")}),
        ])
    assert refused.value.detail["problems"] == [
        "sleeve us_equity holds BND (bonds): a sleeve holds securities of its own asset class (move each to its "
        "class's sleeve, or correct its asset class in the security master)"]
    assert firm["book"]["model"].versions.count() == 1


def test_templates_are_validated_and_audited(firm):
    admin = firm["people"]["admin"]
    with pytest.raises(ValidationFailed, match="Template parameters"):
        template_save(user=admin, code="bad", name="Bad", parameters={"cash": {"target": 7}}, overridable={})
    with pytest.raises(PermissionDenied):
        template_save(user=firm["people"]["advisor"], code="x", name="X", parameters={}, overridable={})
    Security.objects.filter(symbol="VTI").update(tags=["fossil_fuels"])  # a tag no security has is refused
    template = template_save(user=admin, code="esg", name="ESG", overridable={},
                             parameters={"screen": {"enabled": True, "excluded_tags": ["fossil_fuels"]}})
    template_save(user=admin, template=template, code="esg", name="ESG screen", overridable={},
                  parameters=template.parameters)
    assert list(AuditEvent.objects.filter(object_type="parametertemplate", object_id=str(template.pk))
                .order_by("at").values_list("action", flat=True)) == ["template.create", "template.change"]


def test_a_household_may_have_several_advisors_and_the_grants_are_the_one_record(firm):
    from rebalancing.access import households_advised_by, households_without_advisor
    from rebalancing.services.people import household_advisors_set

    people = firm["people"]
    theirs = firm["theirs"].household
    household_advisors_set(household=theirs, advisors=[people["advisor"], people["colleague"]], by=people["admin"])
    assert firm["theirs"] in accounts_visible_to(people["advisor"])
    assert firm["theirs"] in accounts_visible_to(people["colleague"])
    assert theirs in households_advised_by(people["advisor"]) and theirs not in households_without_advisor()
    assert [u.pk for u in Household.objects.get(pk=theirs.pk).advisors] == sorted(
        [people["advisor"].pk, people["colleague"].pk], key=lambda pk: next(
            u.get_username() for u in (people["advisor"], people["colleague"]) if u.pk == pk))

    household_advisors_set(household=theirs, advisors=[], by=people["admin"])
    assert firm["theirs"] not in accounts_visible_to(people["colleague"])
    assert theirs in households_without_advisor()
    events = list(AuditEvent.objects.filter(action="household.advisor", object_id=str(theirs.pk)).order_by("at"))
    assert events[-1].after == {"advisors": []}
    with pytest.raises(ValidationFailed):  # only advisors advise
        household_advisors_set(household=theirs, advisors=[people["pm"]], by=people["admin"])
