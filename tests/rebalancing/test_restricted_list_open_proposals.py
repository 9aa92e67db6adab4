"""An entry of the firm's restricted list takes effect on the open proposals too: one binding today
supersedes those that trade the security against it (pending, and approved not released), audited
with the reason; one that starts later supersedes nothing, but on its first day (and after) the
approval and the release of a proposal trading against it are refused, naming the security and the
entry. A proposal's ``restricted_traded`` was stored when it was solved, on that day's list."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal, ProposalApproval
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import proposal_approve, proposal_release, proposals_approve_bulk
from rebalancing.services.restricted_list import restricted_add, restricted_change
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
NEXT = AS_OF + timedelta(days=1)


@pytest.fixture
def people(firm_a, firm_user):
    return {
        "admin": firm_user(firm_a, "admin@rlopen.example", FirmRole.FIRM_ADMIN),
        "advisor": firm_user(firm_a, "advisor@rlopen.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "compliance@rlopen.example", FirmRole.COMPLIANCE),
        "pm": firm_user(firm_a, "pm@rlopen.example", FirmRole.PORTFOLIO_MANAGER),
    }


@pytest.fixture
def accounts(firm_a, people):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        for account in accounts:
            advisor_assign(household=account.household, advisor=people["advisor"], by=people["admin"])
        policy(auto_approve=False)
        return list(Account.objects.filter(pk__in=[a.pk for a in accounts]).order_by("custodian_number"))


def _trading(account, status, *trades) -> Proposal:
    """A proposal of ``account`` in ``status`` with ``trades``: (side, symbol, quantity) each."""
    proposal = make_proposal(account, status=status)
    proposal.result = {"trades": [{"symbol": symbol, "side": side, "quantity": quantity, "price": 90,
                                   "value": 90 * quantity, "reasons": ["drift"], "lots": []}
                                  for side, symbol, quantity in trades]}
    proposal.save(update_fields=["result"])
    return proposal


def _status(proposal) -> str:
    return Proposal.objects.get(pk=proposal.pk).status


def test_an_entry_binding_today_supersedes_the_open_proposals_buying_it(firm_a, accounts, people):
    with tenant_context(firm_a):
        pending = _trading(accounts[0], S.PENDING, ("buy", "VNQ", 55), ("sell", "VTI", 10))
        approved = _trading(accounts[1], S.APPROVED, ("buy", "VNQ", 5))
        selling = _trading(accounts[2], S.PENDING, ("sell", "VNQ", 5))  # do not buy: a sale may stand
        other = _trading(accounts[2], S.APPROVED, ("buy", "VTI", 5))
        released = _trading(accounts[2], S.RELEASED, ("buy", "VNQ", 5))  # its orders are out

        entry = restricted_add(symbol="VNQ", restriction="do_not_buy", reason="Deal team on the issuer",
                               starts_on=AS_OF, by=people["compliance"], today=AS_OF)

        assert entry.superseded == 2
        assert [_status(p) for p in (pending, approved, selling, other, released)] == [
            S.SUPERSEDED, S.SUPERSEDED, S.PENDING, S.APPROVED, S.RELEASED]
        events = AuditEvent.objects.filter(action="proposal.supersede").order_by("object_id")
        assert [e.object_id for e in events] == sorted([str(pending.pk), str(approved.pk)])
        assert all(e.comment == "VNQ was put on the firm's restricted list (do not buy): Deal team on the issuer"
                   and e.actor == "compliance@rlopen.example" for e in events)


def test_an_entry_starting_later_supersedes_nothing_now(firm_a, accounts, people):
    with tenant_context(firm_a):
        pending = _trading(accounts[0], S.PENDING, ("buy", "VNQ", 55))
        entry = restricted_add(symbol="VNQ", restriction="do_not_buy", reason="Deal team on the issuer",
                               starts_on=NEXT, by=people["compliance"], today=AS_OF)
        assert entry.superseded == 0 and _status(pending) == S.PENDING
        assert not AuditEvent.objects.filter(action="proposal.supersede").exists()


def test_approval_is_refused_on_the_day_an_entry_comes_into_force(firm_a, accounts, people):
    with tenant_context(firm_a):
        pending = _trading(accounts[0], S.PENDING, ("buy", "VNQ", 55))
        restricted_add(symbol="VNQ", restriction="do_not_buy", reason="Deal team on the issuer",
                       starts_on=NEXT, by=people["compliance"], today=AS_OF)

        with pytest.raises(Conflict) as refused:
            proposal_approve(proposal=pending, user=people["advisor"], today=NEXT)

        assert refused.value.code == "restricted_security"
        assert (f"Proposal #{pending.pk} buys VNQ, which is on the firm's restricted list (do not buy, from "
                "Nov 21, 2026: Deal team on the issuer) on Nov 21, 2026: it cannot be approved") in refused.value.message
        assert _status(pending) == S.PENDING and not ProposalApproval.objects.filter(proposal=pending).exists()
        # A bulk approval goes through the same check: it says so and approves nothing.
        [outcome] = proposals_approve_bulk(proposal_ids=[pending.pk], user=people["advisor"], comment="")
        assert not outcome.ok and "buys VNQ" in outcome.message and _status(pending) == S.PENDING


def test_the_day_before_the_entry_the_approval_stands(firm_a, accounts, people):
    with tenant_context(firm_a):
        pending = _trading(accounts[0], S.PENDING, ("buy", "VNQ", 55))
        restricted_add(symbol="VNQ", restriction="do_not_buy", reason="Deal team on the issuer",
                       starts_on=NEXT, by=people["compliance"], today=AS_OF)
        assert proposal_approve(proposal=pending, user=people["advisor"], today=AS_OF).status == S.APPROVED


def test_release_is_refused_on_the_day_an_entry_comes_into_force(firm_a, accounts, people):
    with tenant_context(firm_a):
        approved = _trading(accounts[0], S.APPROVED, ("buy", "VNQ", 55))
        restricted_add(symbol="VNQ", restriction="do_not_trade", reason="Inside information",
                       starts_on=NEXT, until=NEXT + timedelta(days=9), by=people["compliance"], today=AS_OF)

        with pytest.raises(Conflict, match=(
                f"Proposal #{approved.pk} buys VNQ, which is on the firm's restricted list \\(do not trade, from "
                "Nov 21, 2026 until Nov 30, 2026: Inside information\\) on Nov 21, 2026: it cannot be released")):
            proposal_release(proposal=approved, user=people["pm"], today=NEXT)

        assert _status(approved) == S.APPROVED and not approved.orders.exists()


def test_a_do_not_trade_entry_supersedes_a_sale(firm_a, accounts, people):
    with tenant_context(firm_a):
        selling = _trading(accounts[0], S.APPROVED, ("sell", "VNQ", 5), ("buy", "VTI", 4))
        untouched = _trading(accounts[1], S.PENDING, ("sell", "VTI", 5), ("buy", "BND", 4))
        entry = restricted_add(symbol="VNQ", restriction="do_not_trade", reason="Inside information",
                               starts_on=AS_OF, by=people["compliance"], today=AS_OF)
        assert entry.superseded == 1
        assert (_status(selling), _status(untouched)) == (S.SUPERSEDED, S.PENDING)
        assert AuditEvent.objects.get(action="proposal.supersede").comment == (
            "VNQ was put on the firm's restricted list (do not trade): Inside information")


def test_widening_an_entry_to_do_not_trade_supersedes_the_sales(firm_a, accounts, people):
    with tenant_context(firm_a):
        selling = _trading(accounts[0], S.PENDING, ("sell", "VNQ", 5))
        entry = restricted_add(symbol="VNQ", restriction="do_not_buy", reason="Inside information",
                               starts_on=AS_OF, by=people["compliance"], today=AS_OF)
        assert entry.superseded == 0 and _status(selling) == S.PENDING

        entry = restricted_change(entry=entry, restriction="do_not_trade", by=people["compliance"], today=AS_OF)

        assert entry.superseded == 1 and _status(selling) == S.SUPERSEDED
        assert "VNQ's entry on the firm's restricted list was changed and binds (do not trade)" in (
            AuditEvent.objects.get(action="proposal.supersede").comment)
