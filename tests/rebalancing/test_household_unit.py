"""A household managed as one: runs solve it whole (engine.rebalance_household), its proposals are
gathered under one HouseholdProposal and decided together, and its settings have provenance."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import household_inputs_load
from rebalancing.models import Account, HouseholdProposal, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope, accounts_for_scope
from rebalancing.services.households import household_settings_set
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import NotFound, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .test_household_runs import washes_across
from .workflow import policy

pytestmark = pytest.mark.django_db


def _run(scope: RunScope, kind=RebalanceRun.Kind.MANUAL):
    run = run_start(scope=scope, as_of=AS_OF, label="test", kind=kind)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return run


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@hh.example", FirmRole.ADVISOR)
    colleague = firm_user(firm_a, "col@hh.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        yield {**made, "advisor": advisor, "colleague": colleague}


def test_any_account_of_a_unit_household_brings_the_whole_household_into_a_run(lees):
    assert sorted(accounts_for_scope(RunScope(account_ids=(lees["ira"].pk,)))) == sorted(
        a.pk for a in (lees["joint"], lees["ira"], lees["roth"]))
    # Their own model is empty: the household's model is what they are managed to.
    assert sorted(accounts_for_scope(RunScope(model_code=lees["model"].code))) == sorted(
        a.pk for a in (lees["joint"], lees["ira"], lees["roth"]))


def test_a_run_solves_the_household_as_one_and_places_bonds_in_the_ira(lees):
    run = _run(RunScope(household_id=lees["household"].pk))

    [together] = HouseholdProposal.objects.filter(run=run)
    proposals = {p.account.custodian_number: p for p in Proposal.objects.filter(run=run).select_related("account")}
    assert set(proposals) == {"LEE-JT", "LEE-IRA", "LEE-ROTH"}
    assert {p.household_proposal_id for p in proposals.values()} == {together.pk}
    assert together.drift_after < together.drift_before
    assert washes_across(proposals.values()) == []
    # Bonds are tax-inefficient: the household's bond sleeve goes to the traditional IRA first.
    after = together.result["allocation_after"]["bonds"]
    assert after.get("LEE-IRA", 0) > after.get("LEE-JT", 0)
    # Nothing realised where a trade inside the IRA does the job: the joint account keeps its gains.
    assert all(t["side"] == "buy" or t["realised_gain"] <= 0 for t in proposals["LEE-JT"].result["trades"])
    assert together.result["settings"]["sources"]["tax_budget"] == "default"
    assert RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.PROPOSED).count() == 3


def test_one_decision_approves_the_households_proposals_together_and_is_audited(lees):
    run = _run(RunScope(household_id=lees["household"].pk))
    together = HouseholdProposal.objects.get(run=run)
    pending = list(Proposal.objects.filter(household_proposal=together, status=Proposal.Status.PENDING))
    assert len(pending) >= 2

    with pytest.raises(NotFound):  # a colleague does not see it
        household_proposal_decide(household_proposal=together, user=lees["colleague"], approve=True)
    after = household_proposal_decide(household_proposal=together, user=lees["advisor"], approve=True, comment="ok")

    assert {p.status for p in after if p.pk in {q.pk for q in pending}} == {Proposal.Status.APPROVED}
    event = AuditEvent.objects.get(action="household_proposal.approve", object_id=str(together.pk))
    assert event.actor == lees["advisor"].username and set(event.before["proposals"].values()) >= {"pending_approval"}
    assert AuditEvent.objects.filter(action="proposal.approve.advisor",
                                     object_id__in=[str(p.pk) for p in pending]).count() == len(pending)
    with pytest.raises(Exception) as twice:  # nothing is pending any more
        household_proposal_decide(household_proposal=together, user=lees["advisor"], approve=True)
    assert getattr(twice.value, "code", "") == "illegal_transition"


def test_a_decision_the_user_may_not_give_moves_nothing(lees, firm_user, firm_a):
    compliance = firm_user(firm_a, "cmp@hh.example", FirmRole.COMPLIANCE)
    with tenant_context(firm_a):
        run = _run(RunScope(household_id=lees["household"].pk))
        together = HouseholdProposal.objects.get(run=run)
        with pytest.raises(PermissionDenied) as refused:  # no proposal of it needs compliance
            household_proposal_decide(household_proposal=together, user=compliance, approve=True)
        assert refused.value.message == ("You may not approve or reject this household's proposals: the firm's "
                                         "policy asks no compliance approval of it.")
        assert not Proposal.objects.filter(household_proposal=together, status=Proposal.Status.APPROVED).exists()


def test_the_nightly_scan_proposes_for_a_drifted_household_as_one(lees):
    nightly = _run(RunScope(firm=True), kind=RebalanceRun.Kind.NIGHTLY)
    together = HouseholdProposal.objects.get(run=nightly, household=lees["household"])
    assert together.proposals.count() == 3 and together.drift_before > 0.05


def test_household_settings_come_from_the_template_then_the_household_within_its_limits(lees):
    template = lees["template"]
    template.household_parameters = {"tax_budget": 1000}
    template.save()
    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.sources["tax_budget"] == f"template:{template.code}" and inputs.request.tax_budget == 1000

    household_settings_set(user=lees["advisor"], household=lees["household"],
                           settings={"tax_budget": 2500, "location": {"bonds": ["roth", "traditional", "taxable"]}},
                           asset_classes={lees["roth"].pk: ["bonds", "us_equity"]})
    lees["household"].refresh_from_db()
    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.sources["tax_budget"] == "household" and inputs.request.tax_budget == 2500
    assert inputs.request.location.order["bonds"] == ("roth", "traditional", "taxable")
    roth = next(a for a in inputs.request.accounts if a.id == "LEE-ROTH")
    assert roth.tax_status == "roth" and roth.allowed_asset_classes == ("bonds", "us_equity")
    assert AuditEvent.objects.filter(action="household.settings", object_id=str(lees["household"].pk)).exists()

    for bad in ({"tax_budget": 60000}, {"tax_budget": -1}, {"location": {"bonds": ["ira"]}}, {"budget": 1}):
        with pytest.raises(ValidationFailed):
            household_settings_set(user=lees["advisor"], household=lees["household"], settings=bad)
    with pytest.raises(NotFound):
        household_settings_set(user=lees["colleague"], household=lees["household"], settings={})


def test_the_tax_budget_left_is_the_years_budget_less_tax_already_realised(lees):
    Account.objects.filter(pk=lees["joint"].pk).update(realised_long_term_ytd=5000, long_term_rate=0.2)
    lees["household"].household_overrides = {"tax_budget": 1500}
    lees["household"].save()
    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.request.tax_budget == pytest.approx(500)  # 1,500 less 20% of 5,000


def test_the_households_drift_bands_are_its_template_and_overrides_not_an_accounts(lees):
    from rebalancing.engine import DriftParams

    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.request.drift is None  # no bands set: each account's own decide when it trades
    template = lees["template"]
    template.parameters = {**(template.parameters or {}), "drift": {"enabled": True, "absolute_band": 0.05}}
    template.save()
    Account.objects.filter(pk=lees["joint"].pk).update(overrides={"drift": {"enabled": True, "absolute_band": 0.01}})
    [inputs] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert inputs.request.drift == DriftParams(absolute_band=0.05, relative_band=0.25)
    lees["household"].overrides = {"drift": {"relative_band": 0.1}}
    lees["household"].save()
    [changed] = household_inputs_load([lees["household"]], as_of=AS_OF)
    assert changed.request.drift == DriftParams(absolute_band=0.05, relative_band=0.1)
    assert changed.fingerprint != inputs.fingerprint
