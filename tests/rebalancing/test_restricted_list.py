"""The firm's restricted list: the service that keeps it (audited), its merge into every account's
effective parameters on the run's day, and runs through the real engine that respect it."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.effective_parameters import parameters_effective
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import Proposal, RestrictedSecurity
from rebalancing.selectors import RunScope, account_parameters, firm_restrictions_on
from rebalancing.services.restricted_list import restricted_add, restricted_change, restricted_lift
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_account, make_book, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def compliance(firm_a, firm_user):
    return firm_user(firm_a, "compliance@restricted.test", FirmRole.COMPLIANCE)


# --- The service --------------------------------------------------------------------------------------

def test_compliance_adds_changes_and_lifts_an_entry_each_audited(firm_a, compliance):
    with tenant_context(firm_a):
        make_securities()
        entry = restricted_add(symbol=" vti ", restriction="do_not_buy", reason="Deal team on the issuer",
                               starts_on=AS_OF, by=compliance)
        assert (entry.security.symbol, entry.added_by, entry.until) == ("VTI", compliance, None)
        restricted_change(entry=entry, restriction="do_not_trade", reason="Deal team on the issuer",
                          starts_on=AS_OF, until=AS_OF + timedelta(days=30), by=compliance)
        restricted_lift(entry=entry, reason="Deal announced", by=compliance, on=AS_OF + timedelta(days=5))
        entry.refresh_from_db()
        assert (entry.restriction, entry.lifted_on, entry.lift_reason) == ("do_not_trade", AS_OF + timedelta(days=5),
                                                                          "Deal announced")
        events = list(AuditEvent.objects.filter(action__startswith="restricted.").order_by("id"))
    assert [e.action for e in events] == ["restricted.add", "restricted.change", "restricted.lift"]
    assert events[0].after == {"symbol": "VTI", "restriction": "do_not_buy", "reason": "Deal team on the issuer",
                               "starts_on": "2026-11-20", "until": None}
    assert events[1].before == {"symbol": "VTI", "restriction": "do_not_buy", "until": None}
    assert events[1].after == {"symbol": "VTI", "restriction": "do_not_trade", "until": "2026-12-20"}
    assert events[2].comment == "Deal announced" and all(e.actor_id == compliance.pk for e in events)


@pytest.mark.parametrize(("values", "problem"), [
    ({"symbol": "NOPE"}, "NOPE is not a security of the firm"),
    ({"symbol": ""}, "Give the security's symbol"),
    ({"reason": "  "}, "Give the reason it is restricted"),
    ({"restriction": "hold"}, "The restriction is “do_not_buy” or “do_not_trade”"),
    ({"until": AS_OF - timedelta(days=1)}, "The until date Nov 19, 2026 is before the from date Nov 20, 2026"),
], ids=["unknown-symbol", "no-symbol", "no-reason", "unknown-restriction", "until-before-from"])
def test_a_refused_entry_names_the_problem_and_writes_nothing(firm_a, compliance, values, problem):
    with tenant_context(firm_a):
        make_securities()
        with pytest.raises(ValidationFailed) as refused:
            restricted_add(**{"symbol": "VTI", "restriction": "do_not_buy", "reason": "x", "starts_on": AS_OF,
                              **values}, by=compliance)
        assert problem in refused.value.message
        assert not RestrictedSecurity.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="restricted.").exists()


def test_a_second_entry_overlapping_the_first_is_refused_a_later_one_is_not(firm_a, compliance):
    with tenant_context(firm_a):
        make_securities()
        restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF,
                       until=AS_OF + timedelta(days=9), by=compliance)
        with pytest.raises(ValidationFailed, match="VTI is already on the restricted list from Nov 20, 2026"):
            restricted_add(symbol="VTI", restriction="do_not_trade", reason="y", starts_on=AS_OF + timedelta(days=9),
                           by=compliance)
        restricted_add(symbol="VTI", restriction="do_not_trade", reason="y", starts_on=AS_OF + timedelta(days=10),
                       by=compliance)
        assert RestrictedSecurity.objects.count() == 2


def test_a_lifted_entry_cannot_be_changed_or_lifted_again(firm_a, compliance):
    with tenant_context(firm_a):
        make_securities()
        entry = restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF, by=compliance)
        with pytest.raises(ValidationFailed, match="Give the reason it is lifted"):
            restricted_lift(entry=entry, reason="", by=compliance)
        restricted_lift(entry=entry, reason="over", by=compliance, on=AS_OF)
        with pytest.raises(ValidationFailed, match="already lifted"):
            restricted_lift(entry=entry, reason="again", by=compliance)
        with pytest.raises(ValidationFailed, match="was lifted on Nov 20, 2026"):
            restricted_change(entry=entry, reason="changed", by=compliance)


def test_only_compliance_and_firm_admins_keep_the_list(firm_a, firm_user):
    with tenant_context(firm_a):
        make_securities()
        for role in (FirmRole.ADVISOR, FirmRole.PORTFOLIO_MANAGER):
            with pytest.raises(PermissionDenied):
                restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF,
                               by=firm_user(firm_a, f"{role}@restricted.test", role))
        admin = firm_user(firm_a, "admin@restricted.test", FirmRole.FIRM_ADMIN)
        restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF, by=admin)
        assert RestrictedSecurity.objects.count() == 1


# --- The merge into effective parameters --------------------------------------------------------------

def test_the_entries_in_force_on_the_day_bind_an_expired_or_lifted_one_does_not(firm_a, compliance):
    with tenant_context(firm_a):
        make_securities()
        restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF - timedelta(days=10),
                       until=AS_OF - timedelta(days=1), by=compliance)  # expired the day before
        restricted_add(symbol="BND", restriction="do_not_trade", reason="x", starts_on=AS_OF, by=compliance)
        lifted = restricted_add(symbol="VNQ", restriction="do_not_buy", reason="x",
                                starts_on=AS_OF - timedelta(days=3), by=compliance)
        restricted_lift(entry=lifted, reason="over", by=compliance, on=AS_OF)
        restricted_add(symbol="AGG", restriction="do_not_buy", reason="x", starts_on=AS_OF + timedelta(days=1),
                       by=compliance)  # not yet
        assert firm_restrictions_on(AS_OF) == {"BND": "do_not_trade"}
        assert firm_restrictions_on(AS_OF - timedelta(days=1)) == {"VTI": "do_not_buy", "VNQ": "do_not_buy"}


def test_an_account_gets_the_list_above_its_own_restrictions_with_the_source():
    effective = parameters_effective(template=None, household_overrides=None,
                                     account_overrides={"restrictions": {"do_not_buy": ["SPY"]}},
                                     firm_restrictions={"VTI": "do_not_buy", "BND": "do_not_trade"})
    assert effective.value_at("restrictions.do_not_buy") == ["SPY", "BND", "VTI"]
    assert effective.value_at("restrictions.do_not_sell") == ["BND"]
    assert effective.source_of("restrictions.do_not_buy") == "restricted + account"
    assert effective.source_of("restrictions.do_not_sell") == "restricted"
    plain = parameters_effective(template=None, household_overrides=None, account_overrides=None,
                                 firm_restrictions={"VTI": "do_not_buy"})
    assert plain.source_of("restrictions.do_not_buy") == "restricted"
    assert plain.source_of("restrictions.do_not_sell") == "default"
    plain.parameters()  # the engine accepts it


def test_runs_what_ifs_and_pages_read_the_list_through_one_loader(firm_a, compliance):
    with tenant_context(firm_a):
        book = make_book(1)
        account = book["accounts"][0]
        restricted_add(symbol="VNQ", restriction="do_not_buy", reason="x", starts_on=AS_OF, by=compliance)
        [inputs] = rebalance_inputs_load([account.pk], as_of=AS_OF)
        [before] = rebalance_inputs_load([account.pk], as_of=AS_OF - timedelta(days=1))
        assert inputs.parameters["restrictions"]["do_not_buy"] == ["VNQ"]
        assert before.parameters["restrictions"]["do_not_buy"] == []
        assert inputs.fingerprint != before.fingerprint
        assert account_parameters(account, as_of=AS_OF).value_at("restrictions.do_not_buy") == ["VNQ"]
        assert account_parameters(account, as_of=AS_OF, firm_restrictions={}).value_at("restrictions.do_not_buy") == []


# --- Runs through the engine --------------------------------------------------------------------------

def _run(account) -> Proposal | None:
    run = run_start(scope=RunScope(account_ids=(account.pk,), replace_approved=True), as_of=AS_OF, label="test")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    run.refresh_from_db()
    assert run.failed == 0, list(run.outcomes.values())
    return Proposal.objects.filter(run=run).first()


def test_a_run_does_not_buy_a_security_on_the_list(firm_a, compliance):
    with tenant_context(firm_a):
        make_securities()
        account = make_account("T-CASH", model=make_model(), template=make_template(), cash="100000")
        bought = {t["symbol"] for t in _run(account).result["trades"] if t["side"] == "buy"}
        assert "VTI" in bought
        restricted_add(symbol="VTI", restriction="do_not_buy", reason="Inside information", starts_on=AS_OF,
                       by=compliance)
        proposal = _run(account)
        bought = {t["symbol"] for t in proposal.result["trades"] if t["side"] == "buy"}
    assert "VTI" not in bought and {"BND", "VNQ"} <= bought
    assert proposal.parameters["restrictions"]["do_not_buy"] == ["VTI"]


def test_a_proposal_trading_a_listed_security_is_restricted_and_needs_compliance(firm_a, compliance):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]  # overweight VTI: the run sells it
        restricted_add(symbol="VTI", restriction="do_not_buy", reason="x", starts_on=AS_OF, by=compliance)
        proposal = _run(account)
        assert any(t["symbol"] == "VTI" and t["side"] == "sell" for t in proposal.result["trades"])
        assert proposal.restricted_traded and proposal.requires_compliance
        # Do not trade: the engine does not sell it either.
        entry = RestrictedSecurity.objects.get()
        restricted_change(entry=entry, restriction="do_not_trade", by=compliance)
        proposal = _run(account)
    assert proposal is None or not any(t["symbol"] == "VTI" for t in proposal.result["trades"])
