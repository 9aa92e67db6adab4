"""A proposal (trades, lots, taxes, before/after, history) and the approvals queue."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from frontend.filters import QUEUE_SORTS, YES_NO, ApprovalQueueFilter, run_param
from frontend.query import choice_param, decimal_param, ids_param
from frontend.selectors import proposal_executions
from frontend.templatetags.formatting import half_up, humanize_code, money0, reason_help
from rebalancing.access import (
    own_choice_approval_refusal,
    proposals_decidable_by,
    proposals_visible_to,
    with_advisors,
)
from rebalancing.engine.wash_sales import buyable_on
from rebalancing.ledger.schedule_d import loss_limit
from rebalancing.models import ApprovalPolicy, Proposal, ProposalApproval, ReleaseBatch
from rebalancing.services.proposals import (
    approvals_missing,
    bulk_approvable,
    household_legs_waiting,
    household_legs_words,
    open_legs_with,
    proposal_approve,
    proposal_reject,
    proposal_release,
    proposals_approve_bulk,
    proposals_release_bulk,
    proposals_release_ready,
    released_with,
)
from rebalancing.services.release_batches import release_batch_start
from rebalancing.services.revisions import (
    INSTRUCTION_ACTIONS,
    InstructionAdded,
    proposal_resolve,
    proposal_revisable_by,
)
from rebalancing.typed_numbers import DOLLARS
from tenants.audit.actions import Action
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError
from tenants.permissions import Capability, is_advisor_only, user_can
from tenants.roles import FirmRole

from .common import firm_page, is_htmx, keep_posted, paginate, posted_kept, redirect_back, visible_or_404

# Rows of instructions one edit takes from a page (the "add another" button stops there).
MAX_INSTRUCTION_ROWS = 20

_AMOUNT = re.compile(r"(?<![\w$.,])(-?\d{1,3}(?:,\d{3})*\.\d{2})(?![\d%])")


def _dollars(text: str) -> str:
    """The engine's messages write amounts as 1,234.56; people read $1,234.56."""
    return _AMOUNT.sub(lambda m: ("-$" + m.group(1)[1:]) if m.group(1).startswith("-") else "$" + m.group(1), text)


# The engine's tax limit alert names its limit: "... above the per run limit of 5,000.00".
_TAX_LIMIT = re.compile(r"above the per (\w+) limit")


def alert_groups(alerts: list[dict]) -> list[dict]:
    """The proposal's alerts as one panel: one line per kind (how many, the amount at stake) with its
    securities listed under it, instead of one banner per alert."""
    groups: dict[str, dict] = {}
    for a in alerts or ():
        code = a.get("code", "other")
        group = groups.setdefault(code, {"code": code, "rows": [], "total": 0.0, "has_amount": False, "summary": ""})
        message = a.get("message", "")
        detail = message.split(": ", 1)[1] if code == "harvest_opportunity" and ": " in message else _dollars(message)
        group["rows"].append({"symbol": a.get("symbol") or "", "amount": a.get("amount"), "text": detail})
        if a.get("amount") is not None and code in ("harvest_opportunity", "tax_limit_exceeded",
                                                    "wash_sale_disallowed"):
            group["total"] += a["amount"]
            group["has_amount"] = True
    if "tax_limit_exceeded" in groups:
        groups["tax_limit_exceeded"]["summary"] = _tax_limits_exceeded(alerts)
    return list(groups.values())


def _tax_limits_exceeded(alerts: list[dict]) -> str:
    """Which tax limits the proposal exceeds and by how much ("the per-run limit by $4,200 and the
    per-year limit by $3,724"): the excesses overlap (this proposal's gains count in the year's), so
    they are named one by one, never added."""
    parts = []
    for a in alerts:
        if a.get("code") != "tax_limit_exceeded":
            continue
        limit = _TAX_LIMIT.search(a.get("message", ""))
        name = f"the per-{limit.group(1)} limit" if limit else "a limit"
        parts.append(name if a.get("amount") is None else f"{name} by {money0(a['amount'])}")
    return " and ".join(parts)


def _proposal(request, pk):
    return visible_or_404(
        with_advisors(proposals_visible_to(request.user), "account__household__").select_related(
            "account__household", "run", "model_version__model", "risk_model_version"),
        pk=pk,
    )


RELEASED_OR_EXECUTED = (Proposal.Status.RELEASED, Proposal.Status.EXECUTED)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")


def _cents(value) -> Decimal:
    """An amount as the page shows it: to the cent, half up (as the money filter rounds, ``half_up``)."""
    return half_up(Decimal(str(value or 0)), 2)


@dataclass(frozen=True)
class GainsShown:
    """A proposal's realised figures as its page shows them, adding up on the page: each sale's
    gain is the sum of its lot lines, each to the cent, and the gains and losses by term are the
    sums of the lots' recognised results (gain plus any loss a wash sale disallows), each to the
    cent. Presentation only: the stored result and the engine's tax estimate, computed from
    unrounded amounts, stay as they are (they may differ by a few cents: ``differs``). A proposal
    with a sale listing no lots, or lots without their gain, keeps the stored totals (``from_lots``
    False)."""

    trade_gains: tuple[Decimal | None, ...]  # per trade, in the order given (None for a buy)
    short_term_gain: Decimal
    short_term_loss: Decimal
    long_term_gain: Decimal
    long_term_loss: Decimal
    disallowed_losses: Decimal
    from_lots: bool
    differs: bool

    @property
    def net(self) -> Decimal:
        return self.short_term_gain - self.short_term_loss + self.long_term_gain - self.long_term_loss

    @property
    def losses(self) -> Decimal:
        """The losses realised, short- and long-term, whatever each sale was made for (a harvest,
        the drift, a screen...): "losses harvested" counts only the sales made to harvest."""
        return self.short_term_loss + self.long_term_loss


def gains_shown(trades: list[dict], summary: dict) -> GainsShown:
    """The realised figures of a proposal's ``trades`` and ``summary`` (its stored result) as the
    proposal page shows them (``GainsShown``); the one place the page's totals are made."""
    trade_gains: list[Decimal | None] = []
    by_term = {"short": [_ZERO, _ZERO], "long": [_ZERO, _ZERO]}  # [gains, losses]
    disallowed = _ZERO
    from_lots = True
    for t in trades:
        if t.get("side") != "sell":
            trade_gains.append(None)
            continue
        lots = t.get("lots") or []
        if not lots or any(ls.get("gain") is None for ls in lots):  # no lot lines with a gain to add up
            from_lots = False
            trade_gains.append(_cents(t.get("realised_gain")))
            continue
        trade_gains.append(sum((_cents(ls.get("gain")) for ls in lots), _ZERO))
        for ls in lots:
            lost = _cents(ls.get("disallowed_loss"))
            recognised = _cents(ls.get("gain")) + lost  # the loss a wash sale disallows is not realised
            disallowed += lost
            side = by_term["long" if ls.get("term") == "long" else "short"]
            if recognised > 0:
                side[0] += recognised
            else:
                side[1] -= recognised
    stored = (_cents(summary.get("realised_short_term_gain")), _cents(summary.get("realised_short_term_loss")),
              _cents(summary.get("realised_long_term_gain")), _cents(summary.get("realised_long_term_loss")),
              _cents(summary.get("disallowed_losses")))
    derived = (*by_term["short"], *by_term["long"], disallowed)
    shown = derived if from_lots else stored
    stored_trades = [None if t.get("side") != "sell" else _cents(t.get("realised_gain")) for t in trades]
    return GainsShown(tuple(trade_gains), *shown, from_lots=from_lots,
                      differs=shown != stored or trade_gains != stored_trades)


def tax_year_words(proposal: Proposal, net_realised: Decimal) -> dict:
    """What the page says of the tax estimate's year: the run's year, and - a taxable proposal
    realising a net loss - the yearly deduction from ordinary income of the household's return
    that year (``ledger.schedule_d.loss_limit``: 3,000, 1,500 married filing separately), beyond
    which the loss carries forward (IRC §1211(b), §1212(b)) and is not in the estimate."""
    year = proposal.run.as_of.year
    limit = None
    if proposal.account.taxable and net_realised < 0:
        limit = loss_limit(proposal.account.household.filing_status_in(year))
    return {"tax_year": year, "loss_limit": limit}


# Why a sale goes beyond what an instruction asked: the trade's other reasons, in words.
_SOLD_BEYOND = {
    "drift": "to bring {symbol} back to its target",
    "transition": "to move {symbol} toward the model (the transition)",
    "harvest": "to harvest its loss",
    "cash": "to raise the cash the account keeps",
    "screen": "because the account's screen excludes it",
    "removed_asset_class": "because its asset class is removed",
    "restriction": "for its restriction",
    "direct_index": "to track its sleeve's benchmark",
    "asset_location": "to place it in the household's other accounts",
}


def instruction_sales_words(instructions: list[dict], trades: list[dict]) -> list[str]:
    """For each instruction to sell part of a security (an amount or a number of shares) whose
    proposal sells more of it, what it sells in all and why the rest: "sells $5,716.20 of VEA:
    $1,000.00 as instructed and $4,716.20 to bring VEA back to its target" (the engine's
    instructions, ``Proposal.parameters``; the result's trades)."""
    sold = {t.get("symbol"): t for t in trades if t.get("side") == "sell"}
    out = []
    for ins in instructions:
        trade = sold.get(ins.get("sell"))
        if ins.get("kind") != "sell_buy" or trade is None or (ins.get("amount") is None and ins.get("quantity") is None):
            continue  # a sale of all of it sells all of it; nothing more can be sold
        symbol, total = trade["symbol"], _cents(trade.get("value"))
        asked = ins.get("amount") if ins.get("amount") is not None else ins["quantity"] * (trade.get("price") or 0)
        instructed = min(_cents(asked), total)
        rest = total - instructed
        if rest <= 0:
            continue
        price = _cents(trade.get("price") or 0)
        if price and rest < price:  # less than a share more than asked: the sale rounded up to whole shares
            why = ["from rounding up to a whole number of shares"]
        else:
            why = [_SOLD_BEYOND[r].format(symbol=symbol) for r in trade.get("reasons") or () if r in _SOLD_BEYOND]
        out.append(f"sells ${total:,.2f} of {symbol}: ${instructed:,.2f} as instructed and ${rest:,.2f} "
                   + (" and ".join(why) if why else "for the rest of the rebalance"))
    return out


_RESTRICTION_KINDS = (("hold", "hold"), ("do_not_sell", "do not sell"), ("do_not_buy", "do not buy"))


def restriction_words(parameters: dict, symbol: str, side: str) -> str:
    """A trade's "restriction" reason in words, naming the restrictions of the proposal's parameters
    (the account's, its household's and template's, and the firm's list): the trade's own security's,
    or the holdings the account may not trade, around which the rest of their sleeve moves."""
    given = (parameters.get("restrictions") if isinstance(parameters, dict) else None) or {}
    kinds: dict[str, list[str]] = {}
    for key, words in _RESTRICTION_KINDS:
        for restricted in given.get(key) or ():
            kinds.setdefault(restricted, []).append(words)
    if not kinds:
        return reason_help("restriction", side)
    if symbol in kinds:
        return f"{symbol} is restricted on the account ({', '.join(kinds[symbol])})."
    listed = ", ".join(f"{s} ({', '.join(k)})" for s, k in sorted(kinds.items()))
    return (f"The account's restrictions - {listed} - keep those holdings from trading as the model would; "
            f"this {side} makes up for them in the rest of the account.")


def _reason_words(parameters: dict, reason: str, trade: dict) -> str:
    """One of a trade's reasons in words, as this proposal's parameters make it true: a restriction
    names what is restricted; a move to the model under an instruction that set the tax budget aside
    says so (not "within its tax budget")."""
    if reason == "restriction":
        return restriction_words(parameters, trade.get("symbol"), trade.get("side"))
    if reason == "transition" and any(isinstance(i, dict) and i.get("kind") == "bring_to_model"
                                      for i in parameters.get("instructions") or ()):
        return ("Moves the account towards its model; the instruction to bring it back to the model set the tax "
                "budget and drift bands aside this once.")
    return reason_help(reason, trade.get("side"))


@firm_page(Capability.VIEW_BOOK)
def proposal_detail(request, pk: int):
    proposal = _proposal(request, pk)
    result = proposal.result if isinstance(proposal.result, dict) else {}
    summary = result.get("summary") or {}
    trades = sorted(result.get("trades") or [], key=lambda t: (t.get("side") != "sell", -abs(t.get("value") or 0)))
    # Released: each trade beside its order, what was filled and cancelled, the gain booked.
    executions = proposal_executions(proposal) if proposal.status in RELEASED_OR_EXECUTED else {}
    gains = gains_shown(trades, summary)
    parameters = proposal.parameters if isinstance(proposal.parameters, dict) else {}
    trades = [{**t, "executed": executions.get((t.get("symbol"), t.get("side"))), "realised_gain": shown,
               # Each reason in words; a restriction's names what is restricted (the stored reason does not).
               "reason_words": [(r, _reason_words(parameters, r, t)) for r in t.get("reasons") or ()]}
              for t, shown in zip(trades, gains.trade_gains, strict=True)]
    booked = [e.gain for e in executions.values() if e.gain is not None]
    te_before = summary.get("tracking_error_before") or {}
    te_after = summary.get("tracking_error_after") or {}
    labels = ["Total drift"] + [f"Tracking error, {humanize_code(k)}" for k in te_before]
    before = [round((summary.get("drift_before") or 0) * 100, 2)] + [round((v or 0) * 100, 2) for v in te_before.values()]
    after = [round((summary.get("drift_after") or 0) * 100, 2)] + [round((te_after.get(k) or 0) * 100, 2) for k in te_before]
    chart = {"kind": "bar", "unit": "%", "labels": labels, "series": [
        {"label": "Before", "data": before, "color": "#9aa5b4"}, {"label": "After", "data": after, "color": "#1f5fbf"}]}
    may_decide = proposals_decidable_by(request.user).filter(pk=proposal.pk).exists()
    # Theirs to reject, not to approve (they chose its trades, no advisor): said beside the decision.
    approve_refused = may_decide and own_choice_approval_refusal(request.user, proposal)
    legs_waiting = household_legs_words(household_legs_waiting([proposal]).get(proposal.pk, []))
    approvals = list(proposal.approvals.select_related("user"))
    history = list(AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk)).order_by("at", "id"))
    names = {u.username: u.get_full_name() for u in
             get_user_model().objects.filter(username__in={e.actor for e in history})}
    for event in history:  # the words the audit log shows, not the stored code; people by name
        event.words = Action.words_for(event.action)
        event.actor_name = names.get(event.actor) or event.actor
    revised_into = Proposal.objects.select_related("revised_by").filter(revised_from_id=proposal.pk).first()
    superseded_by = (replaced_by_words(proposal, request.user)
                     if proposal.status == Proposal.Status.SUPERSEDED and revised_into is None else "")
    blocked = blocked_buys_as_sold(result.get("blocked_buys") or [], executions)
    return render(request, "frontend/proposal_detail.html", {
        "proposal": proposal, "result": result, "summary": summary, "trades": trades, "chart": chart,
        "blocked_buys": blocked, "blocked_waiting": any(b["waiting"] >= 0.01 for b in blocked),
        "gains": gains, **tax_year_words(proposal, gains.net),
        "executions": executions, "booked_gain": sum(booked) if booked else None,
        "estimated_gain": sum(g for g in gains.trade_gains if g is not None),
        "te": [(humanize_code(k), v, te_after.get(k)) for k, v in te_before.items()],
        "te_cash": tracking_with_cash(summary),
        "approvals": approvals, "history": history, "may_decide": may_decide,
        "approve_refused": approve_refused.message if approve_refused else "",
        # Who a pending proposal waits for, said to someone who may read it but not decide it (a
        # compliance officer opening one within policy found no decision and no reason why).
        "waiting_for": approvals_words(proposal, approvals_missing(proposal))
        if proposal.status == Proposal.Status.PENDING and not may_decide else "",
        "compliance": compliance_state(proposal, approvals),
        # Beside the decision: why compliance is asked (as the Approvals list says it) and who approved so far.
        "compliance_why": compliance_why(proposal, approvals),
        "approved_so_far": [a for a in approvals if a.decision == ProposalApproval.Decision.APPROVE
                            and a.capacity != ProposalApproval.Capacity.POLICY]
        if proposal.status == Proposal.Status.PENDING else [],
        "may_release": (proposal.status == Proposal.Status.APPROVED and not legs_waiting
                        and user_can(request.user, Capability.RELEASE)),
        "legs_waiting": legs_waiting,
        "lot_count": sum(len(t.get("lots") or []) for t in trades),
        "alert_groups": alert_groups(result.get("alerts") or []),
        "warnings": [_dollars(w) for w in result.get("warnings") or ()],
        # A household's account is edited with its household (on the household's page).
        "revised_into": revised_into, "superseded_by": superseded_by,
        "may_edit": not proposal.household_proposal_id and proposal_revisable_by(request.user, proposal),
        "instruction_actions": INSTRUCTION_ACTIONS, "max_instruction_rows": MAX_INSTRUCTION_ROWS,
        # What an instruction's sale came to in all, beside the instruction (the rest: drift, harvest...).
        "instruction_sales": instruction_sales_words(parameters.get("instructions") or [], trades),
        **_resolve_kept(request, pk),
    })


def blocked_buys_as_sold(blocked: list[dict], executions: dict) -> list[dict]:
    """The proposal's wash-sale blocks, each blocked by a sale of its own with the day that sale went
    out (its last fill, else its release) when that is after the run's day: the run counted the 30
    days from its own day, the custodian's window starts on the sale's (IRC §1091; Pub. 550)."""
    out = []
    for b in blocked:
        # What a substitute holds in its place is invested; the rest waits (absent before 2026-12-07).
        b = {**b, "waiting": max(float(b["shortfall"]) - float(b.get("held_in_place") or 0), 0.0)}
        sold = executions.get((b.get("sale_symbol"), "sell")) if b.get("sale_in_proposal") else None
        if sold is not None and sold.sold_on is not None and buyable_on(sold.sold_on).isoformat() > str(b["buyable_on"]):
            b = {**b, "sold_on": sold.sold_on, "buyable_as_sold": buyable_on(sold.sold_on)}
        out.append(b)
    return out


def compliance_state(proposal: Proposal, approvals: list[ProposalApproval]) -> str:
    """What the page says of compliance: "needed" while a pending proposal lacks compliance's
    approval (``approvals_missing``), "approved" once given, "" otherwise (no review asked, or a
    proposal no longer open that never had it)."""
    if not proposal.requires_compliance:
        return ""
    if any(a.capacity == ProposalApproval.Capacity.COMPLIANCE and a.decision == ProposalApproval.Decision.APPROVE
           for a in approvals):
        return "approved"
    if proposal.status == Proposal.Status.PENDING and ProposalApproval.Capacity.COMPLIANCE in approvals_missing(proposal):
        return "needed"
    return ""


def compliance_why(proposal: Proposal, approvals: list[ProposalApproval]) -> str:
    """Why a pending proposal waits for compliance, in the Approvals list's words ("above the
    policy's review thresholds: turnover 31.0% >= 25.0%", ``bulk_approvable``); "" when it does not."""
    if compliance_state(proposal, approvals) != "needed":
        return ""
    within, why = bulk_approvable(ApprovalPolicy.current(), proposal)
    return "" if within else why


def _resolve_kept(request, pk: int) -> dict:
    """The edit form as it was refused: its instruction rows (one empty row when none) and drops."""
    posted = posted_kept(request, f"resolve-{pk}")
    columns = [posted.getlist(name) for name in ("ins_action", "ins_symbol", "ins_buy", "ins_amount")]
    rows = [dict(zip(("action", "symbol", "buy", "amount"), row, strict=True))
            for row in zip(*columns, strict=False)][:MAX_INSTRUCTION_ROWS]
    return {"instruction_rows": rows or [{}], "dropped": posted.getlist("drop")}


def tracking_with_cash(summary: dict) -> list[tuple[str, float | None, float | None]]:
    """Each direct-indexed sleeve's tracking error counting cash above target as uninvested sleeve
    money (the engine's ``tracking_error_with_cash_*``; absent from proposals made before it)."""
    before = summary.get("tracking_error_with_cash_before") or {}
    after = summary.get("tracking_error_with_cash_after") or {}
    return [(k.replace("_", " "), v, after.get(k)) for k, v in before.items()]


@firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE, Capability.RELEASE))
@require_POST
def proposal_decide(request, pk: int):
    """Approve, reject or release, through the same services as the API."""
    proposal = _proposal(request, pk)
    action = request.POST.get("action")
    comment = request.POST.get("comment", "").strip()
    try:
        if action == "approve":
            after = proposal_approve(proposal=proposal, user=request.user, comment=comment)
            if after.status == Proposal.Status.APPROVED:
                messages.success(request, f"Proposal #{proposal.pk} approved.")
            else:
                messages.success(request, f"Your approval of #{proposal.pk} is recorded; it now waits for "
                                          f"{approvals_words(proposal, approvals_missing(after))}.")
        elif action == "reject":
            others = open_legs_with(proposal)
            proposal_reject(proposal=proposal, user=request.user, comment=comment)
            messages.success(request, f"Proposal #{proposal.pk} rejected" + (
                f", and with it its household's {', '.join(f'#{pk}' for pk in others)}: the household's accounts were "
                "solved as one and go out together or not at all." if others else "."))
        elif action == "release":
            after = proposal_release(proposal=proposal, user=request.user, comment=comment)
            others = released_with(proposal) if proposal.household_proposal_id else []
            messages.success(request, released_words(after, others))
        else:
            messages.error(request, "Choose approve, reject or release.")
    except DomainError as exc:
        proposal.refresh_from_db(fields=["status"])
        if proposal.status == Proposal.Status.SUPERSEDED:  # a stale page: lead to what replaced it
            messages.error(request, format_html("{} {}", exc.message, replaced_by_words(proposal, request.user)))
        else:
            messages.error(request, exc.message)
    return redirect_back(request, "proposal_detail", pk=pk)


def replaced_by(proposal: Proposal, user) -> list[Proposal]:
    """The account's proposals made after ``proposal`` (superseded) that still stand, else its latest
    one; empty when none has been made since (it gave way to a change of settings, say)."""
    newer = list(proposals_visible_to(user).filter(account_id=proposal.account_id, pk__gt=proposal.pk)
                 .order_by("pk")[:20])
    return [p for p in newer if p.status != Proposal.Status.SUPERSEDED] or newer[-1:]


def replaced_by_words(proposal: Proposal, user):
    """"It was replaced by proposal #265 (pending approval)." with links (safe HTML), or what happens next."""
    newer = replaced_by(proposal, user)
    if not newer:
        return "No newer proposal has been made for the account yet: the next run proposes again."
    links = format_html_join(", ", '<a href="{}">#{}</a> ({})',
                             ((reverse("proposal_detail", args=[p.pk]), p.pk, p.get_status_display().lower())
                              for p in newer))
    return format_html("It was replaced by proposal{} {}.", "s" if len(newer) > 1 else "", links)


def released_words(proposal: Proposal, others: list[int]) -> str:
    """What a release did: orders that may go out, or - a withdrawal paid from cash, nothing to
    trade - a proposal executed at once."""
    together = f" with its household's {', '.join(f'#{pk}' for pk in others)}" if others else ""
    if proposal.status == Proposal.Status.EXECUTED:
        return (f"Proposal #{proposal.pk} released{together}; it had no order to send, so it is executed"
                + (": the withdrawal's cash is paid out." if proposal.run.kind == "cash_flow" else "."))
    return f"Proposal #{proposal.pk} released{together}: {'their' if others else 'its'} orders may go out."


def approvals_words(proposal: Proposal, missing: list[str]) -> str:
    """Whose approvals ``proposal`` still waits for, in words: its advisors by name (a portfolio
    manager where its household has none), compliance."""
    words = []
    for capacity in missing:
        if capacity == ProposalApproval.Capacity.COMPLIANCE:
            words.append("compliance's approval")
            continue
        advisors = proposal.account.household.advisors
        words.append(f"its advisor's approval ({', '.join(u.get_full_name() or u.get_username() for u in advisors)})"
                     if advisors else "a portfolio manager's approval (its household has no advisor)")
    return " and ".join(words) or "the approvals still missing"


def instructions_posted(post) -> list[tuple[int, str, InstructionAdded]]:
    """The "add an instruction" rows filled in, with their row number: an action, a security, a
    security to buy, an amount ($), and on the household page the account (``ins_account``, ""
    elsewhere) each is for. Rows whose
    columns do not line up (a form cut short or crafted) are refused rather than paired wrongly."""
    actions = post.getlist("ins_action")
    columns = [actions, post.getlist("ins_symbol"), post.getlist("ins_buy"), post.getlist("ins_amount"),
               post.getlist("ins_account") if "ins_account" in post else [""] * len(actions)]
    if len({len(c) for c in columns}) > 1:
        raise ValueError("The instruction rows arrived incomplete; reload the page and enter them again.")
    if len(actions) > MAX_INSTRUCTION_ROWS:
        raise ValueError(f"At most {MAX_INSTRUCTION_ROWS} instructions at a time; {len(actions)} were sent.")
    out = []
    for n, (action, symbol, buy, amount, account) in enumerate(zip(*columns, strict=True), 1):
        if not action:
            if symbol.strip() or buy.strip() or amount.strip() or account.strip():
                raise ValueError(f"Instruction {n}: choose what to do.")
            continue
        try:
            dollars = decimal_param({"amount": amount}, "amount", what=f"amount of instruction {n}", unit=DOLLARS)
        except BadRequest as exc:  # not a number, NaN or infinite, digits other than 0-9, "1.500,00", "5%": why
            raise ValueError(str(exc)) from None
        out.append((n, account, InstructionAdded(action, symbol, buy, dollars)))
    return out


@firm_page(Capability.APPROVE)  # compliance decides on what others propose; it does not edit (services.revisions)
@require_POST
def proposal_resolve_view(request, pk: int):
    """Drop trades and add instructions, then solve again (``services.revisions.proposal_resolve``)."""
    proposal = _proposal(request, pk)
    try:
        instructions = [i for _, _, i in instructions_posted(request.POST)]
        new = proposal_resolve(proposal=proposal, drop_symbols=request.POST.getlist("drop"),
                               instructions=instructions, by=request.user)
    except (ValueError, DomainError) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
        keep_posted(request, f"resolve-{pk}")  # the rows and drops come back as entered, to correct them
        return redirect("proposal_detail", pk=pk)
    messages.success(request, f"Solved again as proposal #{new.pk} ({'; '.join(new.revision['changes'])}); "
                              f"#{proposal.pk} is superseded. It waits for approval.")
    return redirect("proposal_detail", pk=new.pk)


@dataclass
class QueueRow:
    proposal: Proposal
    within_policy: bool
    why_not: str


QUEUE_VIEWS = ("mine", "all")


@firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE))
def approvals(request):
    view = choice_param(request.GET, "view", QUEUE_VIEWS, default="mine")
    if view == "all":
        qs = proposals_visible_to(request.user).filter(status=Proposal.Status.PENDING)
    else:
        qs = proposals_decidable_by(request.user)
    # An advisor sees only their own households: the advisor filter would offer only themselves.
    offered = [] if is_advisor_only(request.user) else list(
        get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("first_name", "username"))
    listed = ApprovalQueueFilter(request.GET, queryset=qs, advisors=offered)
    context = {"view": view, "policy": ApprovalPolicy.current(), "advisors": offered, "filtered": listed.filtered,
               "yes_no": YES_NO, "sorts": {k: words for k, (words, _) in QUEUE_SORTS.items()}}
    problems = listed.problems()
    if problems:  # said beside each field, the values kept to correct them
        return render(request, "frontend/approvals.html", context | {"problems": problems, "rows": []}, status=400)
    sort = listed.sort
    qs = with_advisors(listed.qs, "account__household__").select_related("account__household", "run").order_by(
        *QUEUE_SORTS[sort][1])
    context["sort"] = sort
    page = paginate(request, qs)
    rows = [QueueRow(p, *bulk_approvable(context["policy"], p)) for p in page]
    decidable = set(proposals_decidable_by(request.user).filter(pk__in=[p.pk for p in page]).values_list("pk", flat=True))
    return render(request, "frontend/approvals.html", context | {
        "page": page, "rows": rows, "decidable": decidable, "problems": {},
        "outcomes": request.session.pop("bulk_outcomes", None),
    })


@firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE))
@require_POST
def approvals_bulk(request):
    """Approve each selected proposal through ``proposal_approve``; report each outcome."""
    ids = ids_param(request.POST, "proposal")
    comment = request.POST.get("comment", "").strip() or "approved in bulk within the firm's policy"
    outcomes = [dataclasses.asdict(o) | {"pk": o.proposal_id}
                for o in proposals_approve_bulk(proposal_ids=ids, user=request.user, comment=comment)]
    approved = sum(o["ok"] for o in outcomes)
    if not ids:
        messages.error(request, "Select at least one proposal to approve.")
    elif approved == len(outcomes):
        messages.success(request, f"{approved} proposal{'s' if approved != 1 else ''} approved.")
    else:
        messages.warning(request, f"{approved} of {len(outcomes)} approved; the others are listed with the reason.")
    request.session["bulk_outcomes"] = outcomes
    return redirect_back(request, "approvals")  # the list as filtered when the proposals were ticked



# --- Approved, released and executed proposals ---------------------------------------------------

RELEASE_BATCH_PARTIAL = "frontend/partials/release_batch.html"


@firm_page(Capability.RELEASE)
@require_POST
def proposals_release_all(request):
    """Release every approved proposal, by a worker (``services.release_batches``): the Release page
    then follows its progress."""
    try:
        start = release_batch_start(user=request.user, comment=request.POST.get("comment", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("proposal_queue")
    batch = start.batch
    if start.started:
        messages.success(request, f"Releasing all {batch.total} approved proposal{'s' if batch.total != 1 else ''}: "
                                  "a worker releases them one after the other; this page follows it.")
    else:
        messages.info(request, f"A release of every approved proposal is already under way ({batch.done} of "
                               f"{batch.total} done); nothing more was asked.")
    return redirect("proposal_queue")


# Pending ones are listed here too, for those who follow them without deciding (a firm admin): the
# approvers decide them on the Approvals page.
QUEUE_STATUSES = {"pending": Proposal.Status.PENDING, "approved": Proposal.Status.APPROVED,
                  "released": Proposal.Status.RELEASED, "executed": Proposal.Status.EXECUTED}


@firm_page(Capability.VIEW_BOOK, post=Capability.RELEASE)
def proposal_queue(request):
    """Approved proposals waiting to be released (released together by a portfolio manager), the
    released and executed ones, and those still waiting for approval."""
    if request.method == "POST":
        ids = ids_param(request.POST, "proposal")
        if not ids:
            messages.error(request, "Select at least one approved proposal to release.")
            return redirect("proposal_queue")
        try:
            released_each = proposals_release_bulk(proposal_ids=ids, user=request.user,
                                                   comment=request.POST.get("comment", "").strip())
        except DomainError as exc:  # the firm is suspended: nothing is released
            messages.error(request, exc.message)
            return redirect("proposal_queue")
        outcomes = [dataclasses.asdict(o) | {"pk": o.proposal_id} for o in released_each]
        released = sum(o["ok"] for o in outcomes)
        if released == len(outcomes):
            messages.success(request, f"{released} proposal{'s' if released != 1 else ''} released: their orders may go out.")
        else:
            messages.warning(request, f"{released} of {len(outcomes)} released; the others are listed with the reason.")
        request.session["release_outcomes"] = outcomes
        return redirect("proposal_queue")
    # The latest release of every approved proposal: for those who release (it names any account's proposals).
    batch = (ReleaseBatch.objects.select_related("created_by").first()
             if user_can(request.user, Capability.RELEASE) else None)
    if is_htmx(request) and request.GET.get("part") == "release-batch":  # its progress, polled
        response = render(request, RELEASE_BATCH_PARTIAL, {"batch": batch})
        if batch is None or not batch.under_way:
            response["HX-Refresh"] = "true"  # finished: the list of approved proposals has changed
        return response
    status = choice_param(request.GET, "status", QUEUE_STATUSES, default="approved")
    run = run_param(request.GET)  # one run's proposals, followed from its page
    listed = proposals_visible_to(request.user) if run is None else proposals_visible_to(request.user).filter(run_id=run)
    qs = (with_advisors(listed.filter(status=QUEUE_STATUSES[status]), "account__household__")
          .select_related("account__household", "run").order_by("-status_changed_at", "-pk"))
    page = paginate(request, qs, per_page=50)
    # Legs of a household proposal whose other legs are not all approved: released with them, later.
    waiting = {pk: household_legs_words(legs) for pk, legs in household_legs_waiting(page).items()}
    for p in page:
        p.legs_waiting = waiting.get(p.pk, "")
    counts = dict(listed.filter(status__in=QUEUE_STATUSES.values()).order_by()
                  .values("status").annotate(n=Count("id")).values_list("status", "n"))
    ready = household_waiting = None
    if status == "approved":
        visible = proposals_visible_to(request.user)
        ready = proposals_release_ready(visible).count()
        legs = (visible.filter(status=Proposal.Status.APPROVED, household_proposal__isnull=False)
                .exclude(pk__in=proposals_release_ready(visible).values("pk")).select_related("account")
                .order_by("account__custodian_number")[:100])
        behind = household_legs_waiting(legs)
        household_waiting = [{"proposal": p, "legs": household_legs_words(behind.get(p.pk, []))} for p in legs]
    return render(request, "frontend/proposal_queue.html", {
        "page": page, "status": status, "counts": {k: counts.get(v, 0) for k, v in QUEUE_STATUSES.items()},
        "ready": ready, "household_waiting": household_waiting, "run": run,
        "may_release": status == "approved" and user_can(request.user, Capability.RELEASE),
        "outcomes": request.session.pop("release_outcomes", None),
        "batch": batch if status == "approved" else None,
        "max_age": ApprovalPolicy.current().max_price_age_days,
        "may_decide": user_can(request.user, Capability.APPROVE) or user_can(request.user, Capability.APPROVE_COMPLIANCE),
    })
