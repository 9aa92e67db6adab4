"""A household's open proposals keep their tax estimates right when one of them leaves the open set
(``services.tax_estimates``): each one's estimate is its marginal tax on its returns after the year
so far and the open proposals made before it; the trades stay, the figures are restated."""

import random
from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import timezone

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, Household, Order, Proposal
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import (
    proposal_approve,
    proposal_reject,
    proposal_submit,
    proposals_expire_stale,
)
from rebalancing.services.tax_estimates import realised_open_beside, released_unfilled
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict
from tenants.roles import FirmRole

from ..ledger.helpers import cancel, execution_csv, fill, release
from .book import make_account, make_model, make_securities
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
PENDING = Proposal.Status.PENDING


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@estimates.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def model(in_firm):
    make_securities()
    return make_model()


@pytest.fixture
def in_firm(firm_a):
    from django_tenants.utils import tenant_context

    with tenant_context(firm_a):
        yield firm_a


def proposal(account, short: float, long: float, estimated_tax: float) -> Proposal:
    p = make_proposal(account, status=PENDING, estimated_tax=str(estimated_tax))
    p.result = {"trades": [], "summary": {
        "realised_short_term_gain": max(short, 0), "realised_short_term_loss": max(-short, 0),
        "realised_long_term_gain": max(long, 0), "realised_long_term_loss": max(-long, 0),
        "estimated_tax": estimated_tax}}
    p.save(update_fields=["result"])
    return p


def household(name: str, status: str = "married_joint") -> Household:
    return Household.objects.create(name=name, external_id=f"HH-{name}", filing_status=status)


def test_rejecting_a_harvest_restates_the_gain_solved_after_it(model, pm):
    # One joint return: A's proposal harvests a 10,000 short-term loss; B's, solved after it,
    # realises a 10,000 short-term gain, so its estimate was 0. A is rejected: B's gain is taxed in
    # full at 37%, and at 3,700 it now needs compliance (the policy's threshold is 2,500).
    policy(compliance_min_estimated_tax=D(2500))
    h = household("Ito")
    a, b = make_account("ITO-A", model=model, household=h), make_account("ITO-B", model=model, household=h)
    harvest, gain = proposal(a, -10_000, 0, -3_700), proposal(b, 10_000, 0, 0)

    proposal_reject(proposal=harvest, user=pm, comment="client wants to keep the position")

    gain.refresh_from_db()
    assert gain.estimated_tax == D("3700.00") and gain.result["summary"]["estimated_tax"] == 3700.0
    [restated] = gain.result["tax_restated"]
    assert (restated["before"], restated["after"]) == ("0.00", "3700.00")
    assert restated["because"] == f"#{harvest.pk} (ITO-A) became rejected"
    assert gain.requires_compliance and gain.status == PENDING
    event = AuditEvent.objects.get(action="proposal.tax_restated", object_id=str(gain.pk))
    assert event.after == {"estimated_tax": "3700.00", "requires_compliance": True}


def test_filing_separately_the_other_spouses_proposal_is_not_touched(model, pm):
    h = household("Oda", "married_separate")
    a = make_account("ODA-A", model=model, household=h)
    b = make_account("ODA-B", model=model, household=h)
    Account.objects.filter(pk=b.pk).update(spouse="second")
    harvest, gain = proposal(a, -10_000, 0, -555), proposal(b, 10_000, 0, 3_700)

    proposal_reject(proposal=harvest, user=pm, comment="no")

    gain.refresh_from_db()
    assert gain.estimated_tax == D("3700.00") and "tax_restated" not in gain.result
    assert not AuditEvent.objects.filter(action="proposal.tax_restated").exists()


def test_proposals_that_expire_restate_what_stays_open(model, pm):
    h = household("Abe")
    a, b = make_account("ABE-A", model=model, household=h), make_account("ABE-B", model=model, household=h)
    old = proposal(a, 0, -5_000, -1_110)
    old.run.as_of = timezone.localdate().replace(year=2000)
    old.run.save(update_fields=["as_of"])
    fresh = proposal(b, 0, 5_000, 0)
    fresh.run.as_of = timezone.localdate()
    fresh.run.save(update_fields=["as_of"])

    assert proposals_expire_stale() == 1

    fresh.refresh_from_db()
    assert fresh.estimated_tax == D("1000.00")  # 5,000 long-term at 20%


def _tax(short: float, long: float, short_rate: float, long_rate: float, limit: float) -> float:
    """A year's tax on its net results, written out plainly (Schedule D): losses on one side
    absorb gains on the other; a net loss saves at most ``limit`` at the short-term rate."""
    net = short + long
    if net <= 0:
        return -min(limit, -net) * short_rate
    if short >= 0 and long >= 0:
        return short * short_rate + long * long_rate
    return net * (long_rate if short < 0 else short_rate)


def test_random_households_match_a_plain_sequential_netting(model, pm):
    rng = random.Random(20261205)
    year = timezone.localdate().year
    for case in range(25):
        h = household(f"R{case}")
        accounts = []
        for n in range(rng.randint(2, 4)):
            account = make_account(f"R{case}-{n}", model=model, household=h)
            Account.objects.filter(pk=account.pk).update(
                realised_short_term_ytd=D(rng.randrange(-20_000, 20_000, 100)),
                realised_long_term_ytd=D(rng.randrange(-20_000, 20_000, 100)), realised_ytd_year=year)
            account.refresh_from_db()
            accounts.append(account)
        opened = [proposal(account, rng.randrange(-15_000, 15_000, 50), rng.randrange(-15_000, 15_000, 50), 0)
                  for account in accounts]
        gone = rng.choice(opened)
        proposal_reject(proposal=gone, user=pm, comment="random")
        # The reference: the return's year so far, then each open proposal in the order made.
        ytd_short = sum(float(a.realised_short_term_ytd) for a in accounts)
        ytd_long = sum(float(a.realised_long_term_ytd) for a in accounts)
        for p in opened:
            if p.pk == gone.pk:
                continue
            p.refresh_from_db()
            s = p.result["summary"]
            short = s["realised_short_term_gain"] - s["realised_short_term_loss"]
            long = s["realised_long_term_gain"] - s["realised_long_term_loss"]
            want = (_tax(ytd_short + short, ytd_long + long, 0.37, 0.20, 3000)
                    - _tax(ytd_short, ytd_long, 0.37, 0.20, 3000))
            assert abs(float(p.estimated_tax) - want) <= 0.005, (case, p.pk, float(p.estimated_tax), want)
            ytd_short, ytd_long = ytd_short + short, ytd_long + long


def test_the_proposal_page_says_when_and_why_its_estimate_was_restated(model, pm, firm_a, client_for):
    h = household("Ueda")
    a, b = make_account("UE-A", model=model, household=h), make_account("UE-B", model=model, household=h)
    harvest, gain = proposal(a, -1_000, 0, -370), proposal(b, 1_000, 0, 0)
    proposal_reject(proposal=harvest, user=pm, comment="no")
    page = client_for(firm_a, pm).get(f"/proposals/{gain.pk}/").content.decode()
    assert f"from $0.00 to $370.00, because #{harvest.pk} (UE-A) became rejected" in page


# --- A released proposal's sales still open at the custodian ------------------------------------

def _released(account, lots: list[tuple[str, int, float, str]], *, pm, as_of=None) -> Order:
    """A released sale of VTI at 100 from ``lots`` (lot id, shares, planned gain, term), in order."""
    shares = sum(q for _, q, _, _ in lots)
    trade = {"symbol": "VTI", "side": "sell", "quantity": shares, "price": 100.0, "value": shares * 100.0,
             "reasons": ["drift"], "lots": [
                 {"lot_id": lot_id, "quantity": q, "proceeds": q * 100.0, "cost_basis": q * 100.0 - gain,
                  "gain": gain, "term": term} for lot_id, q, gain, term in lots]}
    [order] = release(account, [trade], pm=pm, **({"as_of": as_of} if as_of else {}))
    return order


def _shares_reference(order: Order, trade: dict) -> tuple[float, float]:
    """Share by share: the order's named lots laid out one share at a time, the filled ones first
    off the front, the cancelled ones off the back; what is left, at each lot's planned gain a share."""
    planned = {lot["lot_id"]: lot for lot in trade["lots"]}
    line = [named["lot_id"] for named in order.lots for _ in range(int(D(named["quantity"])))]
    left = line[int(order.filled_quantity):len(line) - int(order.cancelled_quantity)]
    short = sum(planned[i]["gain"] / planned[i]["quantity"] for i in left if planned[i]["term"] == "short")
    long = sum(planned[i]["gain"] / planned[i]["quantity"] for i in left if planned[i]["term"] == "long")
    return short, long


def test_a_released_orders_open_sales_count_after_its_fills_and_before_its_cancel(model, pm):
    # The order sells 50 of L2 (a 1,000 short-term loss) then 70 of L1 (a 1,400 long-term gain).
    # 60 filled: L2 and 10 of L1 are booked; 20 cancelled off the back: 40 of L1 are still to come.
    h = household("Sato")
    a = make_account("SATO-A", model=model, household=h,
                     holdings=[("VTI", 100, 8000, date(2020, 1, 2)), ("VTI", 50, 6000, date(2026, 6, 1))])
    order = _released(a, [("SATO-A-L2", 50, -1000.0, "short"), ("SATO-A-L1", 70, 1400.0, "long")], pm=pm)
    proposal = order.proposal
    assert released_unfilled([proposal]) == {proposal.pk: (-1000.0, 1400.0)}
    Order.objects.filter(pk=order.pk).update(filled_quantity=60, cancelled_quantity=20,
                                             status=Order.Status.PARTIALLY_FILLED)
    assert released_unfilled([proposal]) == {proposal.pk: (0.0, 800.0)}
    b = make_account("SATO-B", model=model, household=h)
    assert realised_open_beside([h.pk], [b.pk], 2026) == {h.pk: {"household": (0.0, 800.0)}}
    assert realised_open_beside([h.pk], [a.pk], 2026) == {}


def test_open_sales_match_a_share_by_share_reference(model, pm):
    rng = random.Random(1205)
    h = household("Mori")
    for case in range(30):
        n = rng.randint(1, 4)
        holdings = [("VTI", rng.randint(1, 40), 1000, date(2020, 1, 2)) for _ in range(n)]
        account = make_account(f"MORI-{case}", model=model, household=h, holdings=holdings)
        lots = [(f"MORI-{case}-L{i + 1}", q, float(rng.randrange(-5000, 5000, 7)), rng.choice(("short", "long")))
                for i, (_, q, _, _) in enumerate(holdings)]
        rng.shuffle(lots)
        order = _released(account, lots, pm=pm)
        filled = rng.randint(0, int(order.quantity))
        cancelled = rng.randint(0, int(order.quantity) - filled)
        status = Order.Status.PARTIALLY_FILLED if filled else Order.Status.OPEN
        Order.objects.filter(pk=order.pk).update(filled_quantity=filled, cancelled_quantity=cancelled, status=status)
        order.refresh_from_db()
        [(pk, got)] = released_unfilled([order.proposal]).items()
        want = _shares_reference(order, order.proposal.result["trades"][0])
        assert got == pytest.approx(want, abs=1e-6), (case, filled, cancelled, lots)


def test_a_harvest_solved_beside_a_released_gain_is_restated_when_the_gain_is_cancelled(model, pm):
    # One joint return. A's released order is to realise a 10,000 short-term gain; B's harvest of a
    # 10,000 short-term loss, made after it, saves the whole 3,700 beside it. A fill at the planned
    # price moves 4,000 of the gain into the year so far and changes nothing; the cancel of the rest
    # leaves B's loss against 4,000 of gain: 4,000 x 37% + 3,000 x 37% = 2,590.
    h = household("Kato")
    a = make_account("KATO-A", model=model, household=h, holdings=[("VTI", 100, 0, date(2026, 6, 1))])
    b = make_account("KATO-B", model=model, household=h)
    order = _released(a, [("KATO-A-L1", 100, 10_000.0, "short")], pm=pm, as_of=date(2026, 11, 20))
    assert realised_open_beside([h.pk], [b.pk], 2026) == {h.pk: {"household": (10_000.0, 0.0)}}
    harvest = proposal(b, -10_000, 0, -3_700)

    executions_import(source=execution_csv(fill("K-1", order, 40, "100.00", date(2026, 11, 20))),
                      actor="custodian feed", as_of=date(2026, 11, 20))
    harvest.refresh_from_db()
    assert harvest.estimated_tax == D("-3700.00") and "tax_restated" not in harvest.result

    executions_import(source=execution_csv(cancel("K-2", order, date(2026, 11, 20))),
                      actor="custodian feed", as_of=date(2026, 11, 20))
    harvest.refresh_from_db()
    assert harvest.estimated_tax == D("-2590.00")
    [restated] = harvest.result["tax_restated"]
    assert (restated["before"], restated["after"]) == ("-3700.00", "-2590.00")
    assert restated["because"].startswith("released sales filled or cancelled")
    order.proposal.refresh_from_db()
    assert order.proposal.status == Proposal.Status.EXECUTED and "tax_restated" not in order.proposal.result


# --- An approved proposal whose restated tax needs approvals it does not have -------------------

@pytest.fixture
def approvers(firm_a, firm_user):
    return {"advisor": firm_user(firm_a, "advisor@estimates.example", FirmRole.ADVISOR),
            "compliance": firm_user(firm_a, "compliance@estimates.example", FirmRole.COMPLIANCE),
            "admin": firm_user(firm_a, "admin@estimates.example", FirmRole.FIRM_ADMIN)}


def test_an_approved_gain_restated_past_the_compliance_threshold_goes_back_for_compliance(model, pm, approvers,
                                                                                          firm_a, client_for):
    policy(compliance_min_estimated_tax=D(2500), auto_approve=False)
    h = household("Endo")
    advisor_assign(household=h, advisor=approvers["advisor"], by=approvers["admin"])
    a, b = make_account("ENDO-A", model=model, household=h), make_account("ENDO-B", model=model, household=h)
    harvest, gain = proposal(a, -10_000, 0, -3_700), proposal(b, 10_000, 0, 0)
    gain = proposal_approve(proposal=gain, user=approvers["advisor"], comment="fine")
    assert gain.status == Proposal.Status.APPROVED

    proposal_reject(proposal=harvest, user=approvers["advisor"], comment="client keeps the position")

    gain.refresh_from_db()
    assert (gain.status, gain.requires_compliance, gain.estimated_tax) == (PENDING, True, D("3700.00"))
    event = AuditEvent.objects.get(action="proposal.approval_lapsed", object_id=str(gain.pk))
    assert event.after == {"status": PENDING}
    assert event.comment == "estimated tax restated from 0.00 to 3,700.00: compliance must approve it"
    page = client_for(firm_a, approvers["compliance"]).get(f"/proposals/{gain.pk}/").content.decode()
    assert "Sent an approved proposal back for approval" in page and "compliance must approve it" in page
    with pytest.raises(Conflict):  # the advisor's approval stands: a second one must come from someone else
        proposal_approve(proposal=gain, user=approvers["advisor"])
    assert proposal_approve(proposal=gain, user=approvers["compliance"]).status == Proposal.Status.APPROVED


def test_an_auto_approval_past_its_limit_goes_back_to_a_person_and_one_still_within_it_stays(model, pm, approvers):
    policy(compliance_min_estimated_tax=D(50_000), auto_approve=True, auto_max_estimated_tax=D(1000),
           auto_max_turnover=1, auto_max_trades=100)
    h = household("Goto")
    advisor_assign(household=h, advisor=approvers["advisor"], by=approvers["admin"])
    a = make_account("GOTO-A", model=model, household=h)
    b, c = make_account("GOTO-B", model=model, household=h), make_account("GOTO-C", model=model, household=h)
    Account.objects.filter(pk=b.pk).update(discretionary=True)
    Account.objects.filter(pk=c.pk).update(discretionary=True)
    harvest = proposal(a, -20_000, 0, -7_400)
    big = make_proposal(b, estimated_tax="0")
    small = make_proposal(c, estimated_tax="0")
    for p, short in ((big, 10_000), (small, 2_000)):
        p.result = {"trades": [], "summary": {"realised_short_term_gain": short, "realised_short_term_loss": 0,
                                              "realised_long_term_gain": 0, "realised_long_term_loss": 0}}
        p.save(update_fields=["result"])
    big, small = proposal_submit(proposal=big), proposal_submit(proposal=small)
    assert big.status == small.status == Proposal.Status.APPROVED

    proposal_reject(proposal=harvest, user=approvers["advisor"], comment="no")

    big.refresh_from_db()
    small.refresh_from_db()
    # B's 10,000 is now taxed (3,700 > the 1,000 the policy approves alone); C's 2,000 after it too
    # (740, within the limit): its approval by the policy stands.
    assert (big.status, big.requires_compliance, big.estimated_tax) == (PENDING, False, D("3700.00"))
    assert (small.status, small.estimated_tax) == (Proposal.Status.APPROVED, D("740.00"))
    assert proposal_approve(proposal=big, user=approvers["advisor"]).status == Proposal.Status.APPROVED
