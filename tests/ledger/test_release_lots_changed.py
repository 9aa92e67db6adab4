"""A proposal's sales name their lots; a lots file or the custodian's lots accepted after the
proposal was made may have replaced them. Its release then refuses, naming each lot and what it
holds, rather than sending the custodian orders for lots that are gone (whose fills the ledger
would refuse, leaving the orders open for ever)."""

import pytest

from rebalancing.models import Order, Proposal, TaxLot
from rebalancing.services.proposals import proposal_release
from tenants.errors import Conflict

from ..rebalancing.book import AS_OF
from ..rebalancing.workflow import make_proposal
from .helpers import buy, sell

pytestmark = pytest.mark.django_db


def approved(account, trades) -> Proposal:
    proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=AS_OF)
    proposal.result = {"trades": trades, "summary": {}}
    proposal.save(update_fields=["result"])
    return proposal


def test_a_release_selling_lots_replaced_since_is_refused_naming_them_and_writes_nothing(book, pm):
    account = book["account"]
    proposal = approved(account, [sell("VTI", 120, 100.0, [("A-1-L1", 100), ("A-1-L2", 20)]), buy("ITOT", 5, 90.0)])
    TaxLot.objects.filter(lot_id="A-1-L1").delete()  # a lots file left it out
    TaxLot.objects.filter(lot_id="A-1-L2").update(quantity=12)

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=proposal, user=pm, today=AS_OF)

    assert refused.value.code == "lots_changed"
    assert ("lot A-1-L1 holds 0 of the 100 shares it sells; lot A-1-L2 holds 12 of the 20 shares it sells"
            in refused.value.message)
    assert "rebalance the account again" in refused.value.message
    assert [lot["lot_id"] for lot in refused.value.detail["lots"]] == ["A-1-L1", "A-1-L2"]
    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.APPROVED
    assert not Order.objects.exists()


def test_a_release_selling_lots_still_held_goes_out(book, pm):
    proposal = approved(book["account"], [sell("VTI", 150, 100.0, [("A-1-L1", 100), ("A-1-L2", 50)])])

    proposal_release(proposal=proposal, user=pm, today=AS_OF)

    assert [(o.side, o.quantity) for o in Order.objects.all()] == [("sell", 150)]
