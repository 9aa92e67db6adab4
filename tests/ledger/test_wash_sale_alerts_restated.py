"""A proposal's wash-sale alerts say what the ledger will book, as its figures do, when its
household allows wash sales (``wash_sale.allow``), on every path that makes a proposal.

Found by the 2026-12-07 tax audit: the engine counts every purchase of the last 30 days as a
replacement, also one that already replaced another loss (Treas. Reg. §1.1091-1(e): such a
purchase "shall be disregarded in determining the deductibility of any other loss"). The proposal's
figures were restated from the ledger (``tax_estimates.proposals_restate_for_ledger``), but its
alert - "$500.00 of losses are disallowed by wash sales" - and the alert raised on the account kept
the engine's figure; and a one-off instruction's proposal was not restated at all."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Alert, RealisedLot
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.revisions import InstructionAdded

from ..rebalancing.book import AS_OF, make_model
from .helpers import execution_csv
from .test_proposal_against_ledger import _fill, _lot_sales, _recorded
from .test_proposal_wash_sales_allowed import _account, _household, _ledger_buy, _ledger_sale, _run

pytestmark = pytest.mark.django_db


def _wash_alerts(proposal) -> list[dict]:
    return [a for a in proposal.result.get("alerts") or () if a["code"] == "wash_sale_disallowed"]


def _used_up(pm, code: str, *, sold_days_ago: int):
    """The spouse sold 20 VTI at a 500 loss and bought 20 back 10 days ago (that purchase replaced the
    spouse's loss); this account holds 80 VTI at a 2,000 loss and is managed to a bonds-only model."""
    bonds = make_model(f"bonds-{code}", sleeves=(("bonds", "1", {"BND": "1"}),))
    household = _household(code)
    mine = _account(f"{code}-1", bonds, household, [("VTI", 80, 10_000, date(2020, 1, 2))])
    spouse = _account(f"{code}-2", bonds, household, [("VTI", 20, 2_500, date(2020, 1, 2))])
    executions_import(source=execution_csv(
        _ledger_sale(spouse, pm, "VTI", f"{code}-2-L1", 20, 100, AS_OF - timedelta(days=sold_days_ago)),
        _ledger_buy(spouse, pm, "VTI", 20, 100, AS_OF - timedelta(days=10))), actor="custodian feed", as_of=AS_OF)
    assert RealisedLot.objects.get(account=spouse).disallowed_loss == 500
    return mine


@pytest.mark.parametrize("sold_days_ago", [35, 20])  # before the engine's 30 days of trades, and inside them
def test_a_runs_wash_sale_alert_follows_the_ledger(book, pm, sold_days_ago):
    mine = _used_up(pm, f"R{sold_days_ago}", sold_days_ago=sold_days_ago)
    [proposal] = _run(RunScope(account_ids=(mine.pk,)))
    assert D(str(proposal.result["summary"]["disallowed_losses"])) == 0
    assert _wash_alerts(proposal) == []  # the engine alone said 500 (20 replacement shares x 25)
    assert not Alert.objects.filter(account=mine, kind=Alert.Kind.WASH_SALE).exists()
    _fill([proposal], pm)
    assert _recorded(mine) == _lot_sales(proposal)


def test_an_instructions_proposal_is_restated_as_a_runs_is(book, pm):
    mine = _used_up(pm, "I", sold_days_ago=20)
    proposal = account_instruct(account=mine, instructions=[InstructionAdded("sell", "VTI", buy="BND")], by=pm,
                                as_of=AS_OF)
    shown = _lot_sales(proposal)
    assert sum(lot[2] for lot in shown.values()) == 0, shown  # no loss disallowed
    assert D(str(proposal.result["summary"]["disallowed_losses"])) == 0
    # 2,000 long-term loss, deducted within the 3,000 limit at the short-term rate (ordinary income)
    assert D(str(proposal.result["summary"]["estimated_tax"])) == D("-740.00")
    assert proposal.estimated_tax == D("-740.00")
    assert _wash_alerts(proposal) == []
    assert not Alert.objects.filter(account=mine, kind=Alert.Kind.WASH_SALE).exists()
    _fill([proposal], pm)
    assert _recorded(mine) == shown


def test_an_alert_the_ledger_confirms_keeps_the_ledgers_amount(book, pm):
    """The spouse bought 20 VTI 10 days ago and sold nothing: those shares replace 20 of the 80 this
    account sells at 25 a share below cost - 500 disallowed, as the engine says and the ledger books."""
    bonds = make_model("bonds-K", sleeves=(("bonds", "1", {"BND": "1"}),))
    household = _household("K")
    mine = _account("K-1", bonds, household, [("VTI", 80, 10_000, date(2020, 1, 2))])
    spouse = _account("K-2", bonds, household, [])
    executions_import(source=execution_csv(_ledger_buy(spouse, pm, "VTI", 20, 100, AS_OF - timedelta(days=10))),
                      actor="custodian feed", as_of=AS_OF)
    [proposal] = _run(RunScope(account_ids=(mine.pk,)))
    [alert] = _wash_alerts(proposal)
    assert alert["amount"] == 500.0 and alert["message"].startswith("$500.00 of losses are disallowed")
    [row] = Alert.objects.filter(account=mine, kind=Alert.Kind.WASH_SALE)
    assert row.amount == D("500.00")
