"""Released orders and execution files, for the ledger tests (inside the active firm's schema)."""

import csv
import io
from datetime import date

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, Household, Order, Proposal
from rebalancing.services.proposals import proposal_release

from ..rebalancing.book import AS_OF, make_account
from ..rebalancing.workflow import make_proposal


def sell(symbol: str, quantity, price, lots: list[tuple[str, float]], reasons=("drift",)) -> dict:
    return {"symbol": symbol, "side": "sell", "quantity": quantity, "price": price, "value": quantity * price,
            "reasons": list(reasons), "lots": [{"lot_id": lot_id, "quantity": q} for lot_id, q in lots]}


def buy(symbol: str, quantity, price, reasons=("drift",)) -> dict:
    return {"symbol": symbol, "side": "buy", "quantity": quantity, "price": price, "value": quantity * price,
            "reasons": list(reasons), "lots": []}


def release(account, trades: list[dict], *, pm, as_of: date = AS_OF, summary: dict | None = None) -> list[Order]:
    """An approved proposal of ``trades`` released by ``pm``: its orders, in trade order."""
    proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=as_of)
    # What the custodian did, wash sales included: the release does not judge the window here
    # (``proposal_release`` refuses a loss sale the household's purchases wash, test_release_refuses_washed_harvest).
    proposal.parameters = {"wash_sale": {"allow": True}}
    proposal.result = {"trades": trades, "summary": summary or {}}
    proposal.save(update_fields=["parameters", "result"])
    proposal_release(proposal=proposal, user=pm, today=as_of)
    return list(Order.objects.filter(proposal=proposal).order_by("pk"))


def execution_csv(*rows: dict, columns=("external_id", "order_id", "kind", "quantity", "price", "trade_date")) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return out.getvalue().encode()


def fill(external_id: str, order: Order, quantity, price, day: date, **more) -> dict:
    return {"external_id": external_id, "order_id": order.order_id, "kind": "fill", "quantity": quantity,
            "price": price, "trade_date": day.isoformat(), **more}


def cancel(external_id: str, order: Order, day: date, quantity=None) -> dict:
    return {"external_id": external_id, "order_id": order.order_id, "kind": "cancel", "quantity": quantity,
            "price": None, "trade_date": day.isoformat()}


def spouses_loss_and_gain(model, *, pm, external_id: str = "HH-OK", prefix: str = "OK"):
    """A household filing separately: spouse A (the first) sells VTI for a 10,000 short-term loss,
    spouse B (the second) BND for a 10,000 long-term gain, both filled on 2026-06-01."""
    household = Household.objects.create(name="Okafors", external_id=external_id, filing_status="married_separate")
    a = make_account(f"{prefix}-A", model=model, household=household, holdings=[("VTI", 100, 20000, date(2026, 2, 2))])
    b = make_account(f"{prefix}-B", model=model, household=household, holdings=[("BND", 200, 6000, date(2020, 1, 2))])
    Account.objects.filter(pk=b.pk).update(spouse="second")
    [loss] = release(a, [sell("VTI", 100, 100.0, [(f"{prefix}-A-L1", 100)])], pm=pm, as_of=date(2026, 6, 1))
    [gain] = release(b, [sell("BND", 200, 80.0, [(f"{prefix}-B-L1", 200)])], pm=pm, as_of=date(2026, 6, 1))
    executions_import(source=execution_csv(fill(f"{prefix}-1", loss, 100, "100", date(2026, 6, 1)),
                                           fill(f"{prefix}-2", gain, 200, "80", date(2026, 6, 1))),
                      actor="custodian feed", as_of=date(2026, 11, 20))
    return household
