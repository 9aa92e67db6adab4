"""A withdrawal plan as proposals: one ``RebalanceResult`` per account the plan draws on, so that a
withdrawal or RMD goes through the same approval, release and order path as a rebalance.

Each sale of the plan becomes a sell trade (its lots as chosen by ``plan_withdrawal``, reason
``cash``); the account's cash after is its cash plus the proceeds less what leaves the household
(``plan.distributions``). The estimated tax is the plan's rule per account: capital gains tax at
the account's rates in a taxable account (netted with this year's gains, ``tax.run_tax``),
ordinary income tax on the whole distribution from a traditional account (IRC §408(d)(1), at
``distribution_rate``: its ``short_term_rate``, the owner's ordinary rate without the 3.8% NIIT,
IRC §1411(c)(5)) plus, before the owner's 59½, the plan's 10%
additional tax (IRC §72(t)), none from a Roth (IRC §408A(d)).
"""

from __future__ import annotations

from collections import defaultdict

from .household import HouseholdRequest
from .result import CASH_KEY, RebalanceResult, Summary, Trade
from .tax import runs_tax
from .withdrawal import WithdrawalPlan, distribution_rate
from .words import dollars

__all__ = ["withdrawal_results"]


def withdrawal_results(request: HouseholdRequest, plan: WithdrawalPlan) -> tuple[RebalanceResult, ...]:
    """The accounts' results of ``plan`` (only accounts it takes cash or lots from), in the
    request's account order."""
    sales: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for account_id, symbol, sale in plan.sales:
        sales[account_id][symbol].append(sale)
    prices = {s.symbol: s.price for s in request.securities}
    out = []
    # Each taxable account's tax netted after those before it on its returns, as plan_withdrawal's.
    sold_lots = {a: [s for lots in by_symbol.values() for s in lots] for a, by_symbol in sales.items()}
    sales_tax = runs_tax(
        (m.request.account, sum(s.gain for s in sold_lots.get(m.request.account.id, ()) if s.term == "short"),
         sum(s.gain for s in sold_lots.get(m.request.account.id, ()) if s.term == "long"))
        for m in request.accounts if m.tax_status == "taxable")
    for member in request.accounts:
        account = member.request.account
        taken = float(plan.distributions.get(account.id, 0.0))
        if account.id not in sales and taken <= 0:
            continue
        held: dict[str, float] = defaultdict(float)
        for lot in account.lots:
            held[lot.symbol] += lot.quantity * prices[lot.symbol]
        value = sum(held.values()) + account.cash
        trades = []
        for symbol, lots in sorted(sales[account.id].items()):
            quantity = sum(s.quantity for s in lots)
            trades.append(Trade(symbol=symbol, side="sell", quantity=quantity, price=prices[symbol],
                                value=quantity * prices[symbol], reasons=("cash",), lots=tuple(lots),
                                realised_gain=sum(s.gain for s in lots)))
        sold = sum(t.value for t in trades)
        after = dict(held)
        for t in trades:
            after[t.symbol] -= t.value
        cash_after = account.cash + sold - taken
        st = [s.gain for t in trades for s in t.lots if s.term == "short"]
        lt = [s.gain for t in trades for s in t.lots if s.term == "long"]
        if member.tax_status == "taxable":
            # As plan_withdrawal figures it: this year's gains net of the losses carried in (IRC §1212(b)).
            tax = sales_tax[account.id]
        elif member.tax_status == "traditional":
            tax = taken * distribution_rate(account) + plan.early_tax.get(account.id, 0.0)
        else:
            tax = 0.0
        value_after = value - taken
        summary = Summary(
            market_value=value, cash_before=account.cash, cash_after=cash_after, drift_before=0.0, drift_after=0.0,
            tracking_error_before={}, tracking_error_after={},
            realised_short_term_gain=sum(g for g in st if g > 0), realised_short_term_loss=-sum(g for g in st if g < 0),
            realised_long_term_gain=sum(g for g in lt if g > 0), realised_long_term_loss=-sum(g for g in lt if g < 0),
            net_realised_gain=sum(st) + sum(lt), estimated_tax=tax, harvested_losses=0.0, disallowed_losses=0.0,
            turnover=sold / 2 / value if value else 0.0, trading_cost=0.0, buy_value=0.0, sell_value=sold,
            trade_count=len(trades),
        )
        kind = "required minimum distribution" if plan.kind == "rmd" else "withdrawal"
        out.append(RebalanceResult(
            account_id=account.id, as_of=request.as_of, trades=tuple(trades), summary=summary,
            weights_before=_weights(held, account.cash, value), weights_after=_weights(after, cash_after, value_after),
            targets={}, warnings=(f"Raises {dollars(taken)} for a {kind} of {dollars(plan.amount)} from the household; "
                                  "this proposal does not rebalance the account.",),
        ))
    return tuple(out)


def _weights(values: dict[str, float], cash: float, total: float) -> dict[str, float]:
    if total <= 0:
        return {}
    weights = {k: v / total for k, v in values.items() if abs(v) > 1e-9}
    weights[CASH_KEY] = cash / total
    return weights
