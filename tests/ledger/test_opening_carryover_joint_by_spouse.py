"""The opening carryover into a year filed jointly, given as each spouse's part: the joint return
carries in their sum, and when the couple later files separately (or one of them files alone) each
part goes on the return of the spouse who had the loss (Treas. Reg. §1.1212-1(c)(1)(iii); IRS Pub. 550
"Capital Losses"). A single or head-of-household year still takes the household's only."""

from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.carryover import household_years, loss_carried_into
from rebalancing.models import Household
from rebalancing.services.tax_returns import household_tax_set
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

API = "/api/v1"


def _lees(pm, **opening) -> Household:
    """Filed jointly through 2025, separately from 2026; ``opening`` carried into 2025."""
    household = Household.objects.create(name="The Lees", external_id="HH-LEE", filing_status="married_joint")
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_separate",
                                                            "filing_status_from": 2026})
    household = household_tax_set(user=pm, household=Household.objects.get(pk=household.pk),
                                  facts={"carryforward_year": 2025, **opening})
    return Household.objects.get(pk=household.pk)


def test_the_second_spouses_loss_carried_into_a_joint_year_goes_to_the_second_spouse_when_they_file_apart(book, pm):
    household = _lees(pm, carryforward_second_short_term=D(10000))
    # 2025, joint: the one return carries in 10,000, deducts 3,000 and carries out 7,000 - the second's.
    [joint] = household_years([household], 2025)[household.pk][2025].values()
    assert (joint.carried_in_short, joint.carried_out_short) == (10000, 7000)
    assert loss_carried_into([household], 2026) == {(household.pk, "first"): (0, 0),
                                                     (household.pk, "second"): (7000, 0)}


def test_each_spouses_part_into_a_joint_year_is_carried_in_together_and_kept_apart_after(book, pm):
    household = _lees(pm, carryforward_short_term=D(1000), carryforward_second_short_term=D(9000))
    assert (household.carryforward_short_term, household.carryforward_second_short_term) == (1000, 9000)
    assert loss_carried_into([household], 2025) == {(household.pk, ""): (10000, 0)}
    # 3,000 deducted on the joint return; the 7,000 carried out is each spouse's in proportion to their loss
    assert loss_carried_into([household], 2026) == {(household.pk, "first"): (700, 0),
                                                     (household.pk, "second"): (6300, 0)}


def test_a_joint_year_turned_single_keeps_the_sole_filers_part_only(book, pm):
    household = _lees(pm, carryforward_short_term=D(1000), carryforward_second_short_term=D(4000))
    household = household_tax_set(user=pm, household=household, facts={
        "filing_status": "single", "filing_status_from": 1900, "sole_filer": "second"})
    household = Household.objects.get(pk=household.pk)
    assert (household.carryforward_short_term, household.carryforward_second_short_term) == (4000, 0)
    assert loss_carried_into([household], 2025) == {(household.pk, ""): (4000, 0)}


@pytest.mark.parametrize("status, label", [("single", "single"), ("head_of_household", "head of household")])
def test_a_second_spouses_part_into_a_single_or_head_of_household_year_is_still_refused(book, pm, status, label):
    household = Household.objects.create(name="The Lees", external_id="HH-LEE", filing_status=status)
    with pytest.raises(ValidationFailed) as refused:
        household_tax_set(user=pm, household=household, facts={"carryforward_year": 2025,
                                                               "carryforward_second_short_term": D(100)})
    assert refused.value.detail["field"] == "carryforward_second_short_term"
    assert refused.value.message.startswith("A second spouse's own carryover is for a year filed as a married couple "
                                            "(jointly or separately)")
    assert f"files {label} in 2025, one return" in refused.value.message
    assert "enter the first spouse's part as the household's, and 0 for the second spouse's" in refused.value.message
    household = Household.objects.get(pk=household.pk)
    assert (household.carryforward_year, household.carryforward_second_short_term) == (None, 0)


@pytest.fixture
def joint_household(firm_a):
    with tenant_context(firm_a):
        return Household.objects.create(name="The Lees", external_id="HH-LEE", filing_status="married_joint")


def test_the_page_takes_each_spouses_part_for_a_joint_year_and_shows_them(joint_household, firm_a, firm_user,
                                                                          client_for):
    pm = client_for(firm_a, firm_user(firm_a, "pm@carry.example", FirmRole.PORTFOLIO_MANAGER))
    form = pm.get(f"/households/{joint_household.pk}/").content.decode()
    assert "Second spouse's part, short-term (married, jointly or separately)" in form
    assert "filing separately only</label><input type=\"text\" id=\"t-short2\"" not in form
    page = pm.post(f"/households/{joint_household.pk}/tax/", {
        "filing_status": "married_joint", "filing_status_from": "1900", "carryforward_year": "2025",
        "carryforward_short_term": "2,000", "carryforward_long_term": "0", "carryforward_second_short_term": "10,000",
        "carryforward_second_long_term": "0"}, follow=True).content.decode()
    assert "Tax returns saved" in page
    with tenant_context(firm_a):
        h = Household.objects.get(pk=joint_household.pk)
        assert (h.filing_status, h.carryforward_short_term, h.carryforward_second_short_term) == (
            "married_joint", 2000, 10000)
    viewer = client_for(firm_a, firm_user(firm_a, "cco@carry.example", FirmRole.COMPLIANCE))
    shown = viewer.get(f"/households/{joint_household.pk}/").content.decode()
    assert ("Losses carried into 2025: first spouse's part $2,000.00 short-term, $0.00 long-term; second "
            "spouse's part $10,000.00 short-term, $0.00 long-term (one joint return: carried in together, "
            "each part staying its spouse's).") in shown


def test_the_api_takes_each_spouses_part_for_a_joint_year(joint_household, firm_a, firm_user, client_for):
    pm = client_for(firm_a, firm_user(firm_a, "pm@carry.example", FirmRole.PORTFOLIO_MANAGER))
    answer = pm.patch(f"{API}/households/{joint_household.pk}/tax/", {
        "carryforward_year": 2025, "carryforward_short_term": "2000.00", "carryforward_second_short_term": "10000.00"},
        content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["filing_status"], body["carryforward_short_term"], body["carryforward_second_short_term"]) == (
        "married_joint", "2000.00", "10000.00")
    # 2025 made a single year (the first spouse's return): only the first spouse's part carries in
    single = pm.patch(f"{API}/households/{joint_household.pk}/tax/", {"filing_status": "single",
                                                                      "filing_status_from": 1900},
                      content_type="application/json")
    assert single.status_code == 200, single.content
    assert (single.json()["carryforward_short_term"], single.json()["carryforward_second_short_term"]) == (
        "2000.00", "0.00")
