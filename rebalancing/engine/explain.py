"""Human-readable rendering of a result (the CLI's ``--explain``)."""

from __future__ import annotations

from .result import CASH_KEY, RebalanceResult

__all__ = ["explain"]


def _money(x: float) -> str:
    return f"{round(x, 2) + 0.0:,.2f}"


def explain(result: RebalanceResult) -> str:
    """A plain-text report: trades with reasons and lots, then the summary, warnings and alerts."""
    s = result.summary
    lines = [
        f"Account {result.account_id} as of {result.as_of.isoformat()} - market value {_money(s.market_value)}",
        "",
    ]
    if result.trades:
        head = f"{'side':4}  {'symbol':8} {'quantity':>12} {'price':>10} {'value':>14} {'gain':>12}  reasons"
        lines += [head, "-" * len(head)]
        for t in result.trades:
            lines.append(
                f"{t.side:4}  {t.symbol:8} {t.quantity:>12,.4f} {t.price:>10,.2f} {_money(t.value):>14} "
                f"{_money(t.realised_gain) if t.side == 'sell' else '':>12}  {', '.join(t.reasons)}"
            )
            for lot in t.lots:
                note = f", disallowed {_money(lot.disallowed_loss)}" if lot.disallowed_loss else ""
                lines.append(
                    f"{'':6}lot {lot.lot_id}: {lot.quantity:,.4f} sh, {lot.term}-term gain {_money(lot.gain)}{note}"
                )
    else:
        lines.append("No trades.")
    te = ", ".join(
        f"{k} {('%.2f%%' % (100 * v)) if v is not None else '-'} -> "
        f"{('%.2f%%' % (100 * s.tracking_error_after[k])) if s.tracking_error_after.get(k) is not None else '-'}"
        for k, v in s.tracking_error_before.items()
    )
    lines += [
        "",
        f"drift            {s.drift_before:.2%} -> {s.drift_after:.2%}",
        *([f"tracking error   {te}"] if te else []),
        f"cash             {_money(s.cash_before)} -> {_money(s.cash_after)} "
        f"(target {result.targets.get(CASH_KEY, 0):.2%})",
        f"realised         short-term +{_money(s.realised_short_term_gain)} / -{_money(s.realised_short_term_loss)}, "
        f"long-term +{_money(s.realised_long_term_gain)} / -{_money(s.realised_long_term_loss)}, "
        f"net {_money(s.net_realised_gain)}",
        f"estimated tax    {_money(s.estimated_tax)}; harvested losses {_money(s.harvested_losses)}",
        f"turnover         {s.turnover:.2%}; trading cost {_money(s.trading_cost)}",
    ]
    for b in result.blocked_buys:
        where = "in this proposal" if b.sale_in_proposal else f"in account {b.sale_account_id or '(unknown)'}"
        loss = f"loss {_money(b.sale_loss)}" if b.sale_loss is not None else "loss unknown"
        held = f" ({', '.join(b.held_by)} {_money(b.held_in_place)} in its place)" if b.held_in_place else ""
        lines.append(
            f"uninvested: {b.symbol} {_money(b.shortfall)} below target{held} - {b.sale_symbol} sold at a loss "
            f"on {b.sale_date.isoformat()} {where} ({loss}); buyable again on {b.buyable_on.isoformat()}"
        )
    for w in result.warnings:
        lines.append(f"warning: {w}")
    for a in result.alerts:
        lines.append(f"alert [{a.code}]: {a.message}")
    return "\n".join(lines) + "\n"
