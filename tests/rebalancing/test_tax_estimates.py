"""A household's open proposals keep their tax estimates right when one of them leaves the open set
(``services.tax_estimates``): each one's estimate is its marginal tax on its returns after the year
so far and the open proposals made before it; the trades stay, the figures are restated."""

import random
from decimal import Decimal as D

import pytest
from django.utils import timezone

from rebalancing.models import Account, Household, Proposal
from rebalancing.services.proposals import proposal_reject, proposals_expire_stale
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

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
