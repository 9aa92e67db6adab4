"""A household's open proposals keep their tax estimates right as the set of them changes.

Accounts of a household share tax returns (docs/ledger.md "One return, or one per spouse"). A
proposal's estimated tax is what it adds to its returns after the year so far and after what the
household's proposals open before it would realise: a run solves a household's accounts one after
the other (``engine.returns_after``), and an account solved on its own nets after every other open
proposal (``services.revisions.realised_planned_beside``). So the open proposals - pending approval
or approved, not yet released - are taken in the order they were made, and each one's estimate is
its marginal tax on its returns after those before it (``engine.tax.runs_tax``).

A released proposal stays in the set for the sales still open at the custodian: what its filled
orders realised is in the year so far (the ledger books it), what its open sale orders have yet to
fill is planned, at the prices and terms the engine gave those lots (``released_unfilled``). So
releasing restates nothing; a fill moves a sale from planned to booked, at its own price.

When a proposal leaves that set other than by release (rejected, expired, superseded), or a
released order is cancelled or filled at another price than planned, the proposals after it were
estimated against sales that will not happen as planned: their estimates are restated here from
the set as it now is (a released proposal's own is history and is not restated). Only the figures
move; the trades stay as they were proposed. A restatement is kept on the proposal (when, from
what, to what, why), audited, and a proposal pending approval whose restated tax reaches the
firm's compliance threshold now needs compliance's approval too; one approved and not yet
released whose approvals no longer suffice for the restated figure goes back to pending approval
(``_approvals_lapse``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.engine.tax import realised_on_returns, runs_tax
from rebalancing.engine.wash_sales import disallowed_alert, washing_purchase_alert
from rebalancing.engine.withdrawal import sales_words
from rebalancing.engine.words import dollars
from rebalancing.engine_inputs import tax_returns_of
from rebalancing.ledger.quantities import cents_of_float
from rebalancing.models import ApprovalPolicy, Household, Order, Proposal, ProposalApproval
from tenants.audit.actions import Action
from tenants.audit.services import audit_many

__all__ = ["OPEN_FOR_TAX", "open_estimates_restate", "realised_open_beside", "released_unfilled"]

OPEN_FOR_TAX = (Proposal.Status.PENDING, Proposal.Status.APPROVED)
# With the sales of released proposals still open at the custodian.
_PLANNED = (*OPEN_FOR_TAX, Proposal.Status.RELEASED)
_OPEN_ORDERS = (Order.Status.OPEN, Order.Status.PARTIALLY_FILLED)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Taxpayer:
    """What ``engine.run_tax`` reads of an account: its returns and rates."""

    id: str
    taxable: bool
    tax_returns: tuple
    short_term_rate: float
    long_term_rate: float


def _net(summary: dict, term: str) -> float:
    return float(summary.get(f"realised_{term}_term_gain") or 0) - float(summary.get(f"realised_{term}_term_loss") or 0)


def released_unfilled(proposals) -> dict[int, tuple[float, float]]:
    """Proposal id -> the net short- and long-term result its sale orders still open at the
    custodian would realise: each order's open shares are those after its fills in the order's lot
    list (fills relieve the named lots in that order, ``ledger.orders.lots_text``; a cancel takes
    the last), each priced at its lot's planned gain per share. One query."""
    results = {p.pk: p.result or {} for p in proposals}
    out: dict[int, list[float]] = {pk: [0.0, 0.0] for pk in results}
    orders = (Order.objects.filter(proposal_id__in=list(results), side="sell", status__in=_OPEN_ORDERS)
              .values_list("proposal_id", "order_id", "filled_quantity", "cancelled_quantity", "quantity", "lots"))
    for proposal_id, order_id, filled, cancelled, quantity, lots in orders:
        trade = (results[proposal_id].get("trades") or [])[int(order_id.rsplit("-", 1)[1]) - 1]
        planned = {lot["lot_id"]: lot for lot in trade.get("lots") or ()}
        skip, left = filled, quantity - filled - cancelled
        for named in lots:
            shares = Decimal(named["quantity"])
            taken = min(shares, skip)
            skip -= taken
            open_ = min(shares - taken, left)
            left -= open_
            if open_ <= 0:
                continue
            lot = planned[named["lot_id"]]
            per_share = (lot["gain"] + (lot.get("disallowed_loss") or 0.0)) / lot["quantity"]
            out[proposal_id][lot["term"] == "long"] += float(open_) * per_share
    return {pk: (short, long) for pk, (short, long) in out.items()}


def _planned_net(proposals) -> dict[int, tuple[float, float]]:
    """Proposal id -> its net short- and long-term result still to come: an open proposal's whole
    plan, a released one's unfilled sales (``released_unfilled``)."""
    out = released_unfilled([p for p in proposals if p.status == Proposal.Status.RELEASED])
    for p in proposals:
        if p.status != Proposal.Status.RELEASED:
            summary = (p.result or {}).get("summary") or {}
            # With the change its purchases make to this year's sales already booked (wash sales
            # allowed: ``proposals_restate_for_ledger``).
            earlier = (p.result or {}).get("wash_sales_earlier") or {}
            out[p.pk] = (_net(summary, "short") + float(earlier.get("short") or 0),
                         _net(summary, "long") + float(earlier.get("long") or 0))
    return out


def _other_years_tax(p: Proposal) -> float:
    """Tax a proposal's purchases add on an earlier year's return (a December loss they wash)."""
    return float(((p.result or {}).get("wash_sales_earlier") or {}).get("other_years_tax") or 0)


def realised_open_beside(household_ids, exclude_account_ids, year: int) -> dict[int, dict[str, tuple[float, float]]]:
    """Household id -> what its open proposals, but those of ``exclude_account_ids``, would realise
    net on each of its tax returns (``engine.realised_add``), released ones' open sales included:
    what a solve of the excluded accounts nets its estimate after (a run's, an edit's, an
    instruction's, a preview's). At most three queries, and none when there are no such proposals."""
    household_ids = sorted({h for h in household_ids if h})
    if not household_ids:
        return {}
    proposals = list(Proposal.objects.filter(account__household_id__in=household_ids, account__taxable=True,
                                             status__in=_PLANNED).exclude(account_id__in=list(exclude_account_ids))
                     .select_related("account").order_by("pk"))
    if not proposals:
        return {}
    returns = tax_returns_of(list(Household.objects.filter(pk__in={p.account.household_id for p in proposals})), year)
    planned = _planned_net(proposals)
    out: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
    for p in proposals:
        household_id, account_id = p.account.household_id, p.account_id
        run_short, run_long = planned[p.pk]
        if not returns.get(account_id) or not (run_short or run_long):
            continue
        payer = _Taxpayer(str(account_id), True, returns[account_id], 0.0, 0.0)
        for rid, (short, long) in realised_on_returns(payer, run_short, run_long).items():
            before = out[household_id].get(rid, (0.0, 0.0))
            out[household_id][rid] = (before[0] + short, before[1] + long)
    return dict(out)


@transaction.atomic
def open_estimates_restate(household_ids, *, because: str, actor=None) -> dict[int, tuple[Decimal, Decimal]]:
    """Restate the estimated tax of the open proposals of these households from the open set as it
    is now; returns those that changed, by id: (before, after). Call in the transaction that
    changed the set."""
    households = list(Household.objects.filter(pk__in=set(household_ids)))
    if not households:
        return {}
    proposals = list(Proposal.objects.select_for_update(of=("self",))
                     .filter(account__household__in=households, account__taxable=True, status__in=OPEN_FOR_TAX)
                     .select_related("account").order_by("pk"))
    if not proposals:
        return {}
    released = list(Proposal.objects.filter(account__household__in=households, account__taxable=True,
                                            status=Proposal.Status.RELEASED, orders__side="sell",
                                            orders__status__in=_OPEN_ORDERS)
                    .select_related("account").distinct().order_by("pk"))
    returns = tax_returns_of(households, timezone.localdate().year)
    planned = _planned_net(proposals + released)
    by_household: dict[int, list[Proposal]] = defaultdict(list)
    for p in sorted(proposals + released, key=lambda p: p.pk):
        by_household[p.account.household_id].append(p)
    policy = ApprovalPolicy.current()
    now, changes, lapsed = timezone.now(), [], []
    for members in by_household.values():
        runs = []
        for p in members:
            payer = _Taxpayer(str(p.pk), True, returns.get(p.account_id, ()), float(p.account.short_term_rate),
                              float(p.account.long_term_rate))
            if payer.tax_returns:
                runs.append((payer, *planned[p.pk]))
        taxes = runs_tax(runs)
        for p in members:
            if str(p.pk) not in taxes or p.status == Proposal.Status.RELEASED:
                continue
            after = cents_of_float(taxes[str(p.pk)] + _other_years_tax(p))
            before = Decimal(p.estimated_tax).quantize(_CENT, ROUND_HALF_UP)
            if after == before:
                continue
            result = dict(p.result or {})
            result["summary"] = {**(result.get("summary") or {}), "estimated_tax": float(after)}
            result["tax_restated"] = [*(result.get("tax_restated") or ()), {
                "at": now.isoformat(), "before": str(before), "after": str(after), "because": because}]
            p.result, p.estimated_tax = result, after
            fields = ["result", "estimated_tax"]
            if (p.status == Proposal.Status.PENDING and not p.requires_compliance
                    and after >= policy.compliance_min_estimated_tax):
                p.requires_compliance = True  # the firm's policy, on the figure as it now is
                fields.append("requires_compliance")
            p.save(update_fields=fields)
            changes.append(("proposal", str(p.pk), {"estimated_tax": str(before)},
                            {"estimated_tax": str(after), "requires_compliance": p.requires_compliance}))
            if p.status == Proposal.Status.APPROVED:
                lapsed.append((p, before, after))
    audit_many(actor=actor, action=Action.PROPOSAL_TAX_RESTATED, changes=changes, comment=because)
    _approvals_lapse(lapsed, policy, actor=actor)
    return {int(pk): (Decimal(b["estimated_tax"]), Decimal(a["estimated_tax"])) for _, pk, b, a in changes}


def _approvals_lapse(restated, policy, *, actor) -> None:
    """An approved proposal not yet released whose restated tax needs approvals it does not have
    goes back to pending approval: compliance's, once the figure reaches the firm's compliance
    threshold; a person's, once an approval the policy gave alone is past its auto-approval limit.
    The approvals it has stay (ProposalApproval); the missing ones are asked for as on submission."""
    if not restated:
        return
    from rebalancing.services.proposals import _move  # the workflow's one door; it imports this module

    have: dict[int, set[str]] = defaultdict(set)
    for pk, capacity in ProposalApproval.objects.filter(
            proposal_id__in=[p.pk for p, _, _ in restated],
            decision=ProposalApproval.Decision.APPROVE).values_list("proposal_id", "capacity"):
        have[pk].add(capacity)
    for p, before, after in restated:
        compliance = p.requires_compliance or after >= policy.compliance_min_estimated_tax
        given = have[p.pk]
        if ProposalApproval.Capacity.POLICY in given and not compliance and after <= policy.auto_max_estimated_tax:
            continue
        if ProposalApproval.Capacity.ADVISOR in given and (not compliance or ProposalApproval.Capacity.COMPLIANCE in given):
            continue
        p.requires_compliance = compliance
        why = (f"estimated tax restated from {before:,.2f} to {after:,.2f}: "
               + ("compliance must approve it" if compliance and ProposalApproval.Capacity.COMPLIANCE not in given
                  else f"above the {policy.auto_max_estimated_tax:,.2f} the policy approves alone"))
        _move(p, Proposal.Status.PENDING, actor=actor, action=Action.PROPOSAL_APPROVAL_LAPSED, comment=why)


def wash_sales_allowed(proposal: Proposal) -> bool:
    """Do the proposal's effective parameters let the engine make a wash sale?"""
    return bool(((proposal.parameters or {}).get("wash_sale") or {}).get("allow"))


def _money_text(value: Decimal) -> str:
    return f"${value:,.2f}" if value >= 0 else f"-${-value:,.2f}"


def proposals_restate_for_ledger(proposals: list[Proposal], *, as_of, open_before=None) -> list[Proposal]:
    """Restate, as the ledger will book them, the tax figures of unsaved ``proposals`` (in the order
    they were solved) of households where one of them allows wash sales (``wash_sale.allow``).

    The engine's figures are then an estimate from its inputs (docs/engine.md "Known limits"); a
    wrong tax figure is worse than none, so the per-lot sale figures, the totals and the estimated
    tax become those the ledger books once the trades fill at the proposal's prices
    (``ledger.proposal_replay``), and the estimate includes what its purchases do to sales already
    booked (a loss sold within 30 days before a purchase is disallowed, IRC §1091(a)), on the
    return of that sale's year. The household's estimates are netted in the order solved, after
    ``open_before`` (``realised_open_beside``), as a run nets them (``engine.runs_tax``). What
    moved is said in the proposal's ``result["wash_sales"]``, and its wash-sale alerts
    (``result["alerts"]``) are the ledger's figures too (``_wash_alerts_restate``; the run writes them
    with ``runs.alerts_restated``). Returns the proposals that changed; no query when no proposal
    allows wash sales."""
    from rebalancing.ledger.proposal_replay import Planned, proposals_what_if

    households = {p.account.household_id for p in proposals if wash_sales_allowed(p)}
    if not households:
        return []
    members = [p for p in proposals if p.account.household_id in households and (p.result or {}).get("trades")]
    what_if = proposals_what_if([Planned(p.account_id, p.result["trades"]) for p in members], as_of=as_of)
    if what_if.refused:
        for p in members:
            if wash_sales_allowed(p):
                p.result = {**p.result, "wash_sales": [f"not restated as the ledger will book it: {what_if.refused}"]}
        return []
    notes: dict[int, list[str]] = defaultdict(list)
    changed_households = set()
    for i, p in enumerate(members):
        if p.account.taxable and _lots_restate(p, i, what_if, notes[i]):
            changed_households.add(p.account.household_id)
    for sale in what_if.earlier:
        if sale.by is not None:
            changed_households.add(members[sale.by].account.household_id)
    if changed_households:
        _taxes_restate([p for p in members if p.account.household_id in changed_households], members, what_if,
                       notes, as_of=as_of, open_before=open_before or {})
    changed = []
    for i, p in enumerate(members):
        if notes[i]:
            p.result = {**p.result, "wash_sales": [*(p.result.get("wash_sales") or ()), *notes[i]]}
        # (Also where no figure moved: the engine alerts a purchase in a group with a loss sale in the
        # window, which washes nothing when that sale's loss is already replaced.)
        if _wash_alerts_restate(p, i, what_if) or notes[i]:
            changed.append(p)
    return changed


def withdrawal_plan_restate(plan: dict, restated: list[Proposal]) -> dict:
    """A withdrawal's ``plan`` (``engine.withdrawal_plan_to_dict``) with the sales of the ``restated``
    proposals' taxable accounts and the words on their tax as the ledger will book them
    (``proposals_restate_for_ledger``): each lot sold as the ledger's rows (a lot a wash sale gave
    part of another's holding period is two, one per term) with the loss they disallow, in the
    plan's order; each account's line on what its sales realise, from the proposal's figures."""
    by_number = {p.account.custodian_number: p for p in restated if p.account.taxable}
    if not by_number:
        return plan
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for number, p in by_number.items():
        for trade in p.result["trades"]:
            for lot in trade.get("lots") or () if trade["side"] == "sell" else ():
                rows[number, lot["lot_id"]].append({"account_id": number, "symbol": trade["symbol"], **lot})
    sales = []
    for sale in plan.get("sales") or ():
        if sale["account_id"] in by_number:
            sales += rows.pop((sale["account_id"], sale["lot_id"]), [])
        else:
            sales.append(sale)
    words = {}
    for number, p in by_number.items():
        s = p.result["summary"]
        line = sales_words(number, s["realised_short_term_gain"] - s["realised_short_term_loss"],
                           s["realised_long_term_gain"] - s["realised_long_term_loss"], float(p.estimated_tax))
        if s.get("disallowed_losses"):
            line += f", as the ledger will book them: {dollars(s['disallowed_losses'])} of their losses disallowed by wash sales"
        words[f"sales in {number} "] = line
    explanation = [next((w for start, w in words.items() if line.startswith(start)), line)
                   for line in plan.get("explanation") or ()]
    return {**plan, "sales": sales, "explanation": explanation}


def _wash_alerts_restate(p: Proposal, i: int, what_if) -> bool:
    """The proposal's wash-sale alerts from the ledger's figures: what its own loss sales lose to wash
    sales, and each earlier loss sale its purchases disallow (IRC §1091(a)); says if they moved."""
    kept = [a for a in p.result.get("alerts") or () if a["code"] != "wash_sale_disallowed"]
    washed = [disallowed_alert(float(p.result["summary"].get("disallowed_losses") or 0))]
    washed += [washing_purchase_alert(sale.symbol, float(lost), sale.sold) for sale in what_if.earlier
               if sale.by == i and sale.bought and (lost := sale.disallowed_after - sale.disallowed_before) > 0]
    alerts = kept + [asdict(a) for a in washed if a is not None]
    if alerts == list(p.result.get("alerts") or ()):
        return False
    p.result = {**p.result, "alerts": alerts}
    return True


def _lots_restate(p: Proposal, i: int, what_if, notes: list[str]) -> bool:
    """Put the ledger's rows in place of the engine's for the proposal's sales; says if any moved."""
    result = dict(p.result)
    trades = [dict(t) for t in result["trades"]]
    moved = False
    for n, trade in enumerate(trades):
        rows = what_if.sales.get((i, n))
        if trade["side"] != "sell" or rows is None:
            continue
        shown = sorted((lot["lot_id"], lot["term"], _cents(lot["gain"]), _cents(lot.get("disallowed_loss") or 0))
                       for lot in trade.get("lots") or ())
        booked = sorted((r.lot_id, r.term, r.gain, r.disallowed_loss) for r in rows)
        if shown == booked:
            continue
        moved = True
        for lot in trade.get("lots") or ():
            rs = [r for r in rows if r.lot_id == lot["lot_id"]]
            was = (_cents(lot.get("disallowed_loss") or 0), lot["term"])
            now = (sum((r.disallowed_loss for r in rs), Decimal(0)), "/".join(sorted({r.term for r in rs})))
            if was != now:
                notes.append(f"lot {lot['lot_id']} ({trade['symbol']}): the ledger will book {_money_text(now[0])} "
                             f"of its loss disallowed, {now[1]}-term (the engine estimated {_money_text(was[0])}, "
                             f"{was[1]}-term; wash sale, IRC §1091, Treas. Reg. §1.1091-1)")
        order = {lot["lot_id"]: k for k, lot in enumerate(trade.get("lots") or ())}
        trade["lots"] = [{"lot_id": r.lot_id, "quantity": float(r.quantity), "proceeds": float(r.proceeds),
                          "cost_basis": float(r.cost_basis), "gain": float(r.gain), "term": r.term,
                          "disallowed_loss": float(r.disallowed_loss)}
                         for r in sorted(rows, key=lambda r: (order.get(r.lot_id, len(order)), r.term))]
        trade["realised_gain"] = float(sum((r.gain for r in rows), Decimal(0)))
        trades[n] = trade
    if not moved:
        return False
    result["trades"] = trades
    recognised = {"short": [Decimal(0), Decimal(0)], "long": [Decimal(0), Decimal(0)]}
    harvested = disallowed = Decimal(0)
    for trade in trades:
        for lot in trade.get("lots") or () if trade["side"] == "sell" else ():
            value = _cents(lot["gain"]) + _cents(lot.get("disallowed_loss") or 0)
            disallowed += _cents(lot.get("disallowed_loss") or 0)
            recognised[lot["term"]][0 if value > 0 else 1] += abs(value)
            if value < 0 and "harvest" in (trade.get("reasons") or ()):
                harvested -= value
    summary = dict(result["summary"])
    for term in ("short", "long"):
        summary[f"realised_{term}_term_gain"] = float(recognised[term][0])
        summary[f"realised_{term}_term_loss"] = float(recognised[term][1])
    summary["net_realised_gain"] = float(sum((g - lo for g, lo in recognised.values()), Decimal(0)))
    summary["disallowed_losses"] = float(disallowed)
    summary["harvested_losses"] = float(harvested)
    result["summary"] = summary
    p.result = result
    p.harvested_losses = harvested
    return True


def _cents(value) -> Decimal:
    return cents_of_float(value)


def _taxes_restate(restated: list[Proposal], members: list[Proposal], what_if, notes, *, as_of, open_before) -> None:
    """Each proposal's estimated tax, in the order solved, on the returns its sales and the earlier
    sales its purchases change go on: this year's netted after the household's open proposals and
    those solved before it; an earlier year's (a December loss washed by a January purchase) on
    that year's return as it stands."""
    households = list(Household.objects.filter(pk__in={p.account.household_id for p in restated}))
    years = {as_of.year} | {s.year for s in what_if.earlier}
    returns = {year: tax_returns_of(households, year) for year in sorted(years)}
    accounts = {a.pk: a for h in households for a in h.accounts.all()}
    index = {id(p): i for i, p in enumerate(members)}

    def payer(account_id: int, key: str, year: int, before=None) -> _Taxpayer:
        a = accounts[account_id]
        rs = returns[year].get(account_id, ())
        if before:
            from rebalancing.engine.tax import returns_after

            rs = returns_after(rs, before)
        return _Taxpayer(key, a.taxable, rs, float(a.short_term_rate), float(a.long_term_rate))

    for household in households:
        runs, extra, this_year = [], defaultdict(float), defaultdict(lambda: [0.0, 0.0])
        for p in (p for p in restated if p.account.household_id == household.pk):
            i = index[id(p)]
            summary = p.result["summary"]
            runs.append((payer(p.account_id, f"{i}", as_of.year, open_before.get(household.pk)),
                         _net(summary, "short"), _net(summary, "long")))
            for sale in (s for s in what_if.earlier if s.by == i):
                short = float(sale.change) if sale.term == "short" else 0.0
                long = float(sale.change) if sale.term == "long" else 0.0
                if sale.year == as_of.year:
                    this_year[i][0] += short
                    this_year[i][1] += long
                    runs.append((payer(sale.account_id, f"{i}:{len(runs)}", as_of.year,
                                       open_before.get(household.pk)), short, long))
                    cost = None  # netted in order below
                else:
                    cost = sum(r.tax(short, long, float(accounts[sale.account_id].short_term_rate),
                                     float(accounts[sale.account_id].long_term_rate))
                               for r in returns[sale.year].get(sale.account_id, ()))
                    extra[i] += cost
                lost = sale.disallowed_after - sale.disallowed_before
                what = (f"buying {sale.symbol} on {as_of} {'disallows' if lost > 0 else 'allows'} "
                        f"{_money_text(abs(lost))} of the loss sold on {sale.sold}" if sale.bought and lost else
                        f"{'buying' if sale.bought else 'selling'} {sale.symbol} on {as_of} moves the sale on "
                        f"{sale.sold}")
                notes[i].append(
                    f"{what} from lot {sale.lot_id} of account "
                    f"{accounts[sale.account_id].custodian_number} (wash sale, IRC §1091): its {sale.year} "
                    f"{sale.term}-term result moves by {_money_text(sale.change)}"
                    + (f", {_money_text(cents_of_float(cost))} tax on that year's return"
                       if cost is not None else ", in this estimate"))
        taxes = runs_tax(runs)
        for p in (p for p in restated if p.account.household_id == household.pk):
            i = index[id(p)]
            if not p.account.taxable and not any(s.by == i for s in what_if.earlier):
                continue  # an IRA's own sales are taxed as nothing; its purchase may wash a loss
            total = sum(v for k, v in taxes.items() if k == f"{i}" or k.startswith(f"{i}:")) + extra[i]
            after = cents_of_float(total)
            before = cents_of_float(p.result["summary"].get("estimated_tax") or 0)
            if after != before:
                notes[i].append(f"estimated tax restated from {_money_text(before)} to {_money_text(after)}: "
                                "the ledger's figures for these trades once filled")
            p.result = {**p.result, "summary": {**p.result["summary"], "estimated_tax": float(after)}}
            p.estimated_tax = after
        for p in (p for p in restated if p.account.household_id == household.pk):
            i = index[id(p)]
            if i in this_year or extra.get(i):
                # Kept for the restatements of the open set (``_planned_net``): netted as this
                # proposal's own results on its returns (the household's, as a run nets them).
                p.result = {**p.result, "wash_sales_earlier": {"short": this_year[i][0], "long": this_year[i][1],
                                                               "other_years_tax": extra.get(i, 0.0)}}
