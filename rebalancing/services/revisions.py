"""An advisor's edit of a proposal before approving: drop trades, add one-off instructions, solve again.

The account is solved with the inputs of the proposal's run (same pricing date, its effective
parameters) plus the edit, laid over the parameters for this solve only:

- a dropped trade is a "hold" restriction on its security (not traded this time);
- an added instruction is the engine's one-off instruction (sell X, or sell X and buy Y; raise
  cash) or a restriction (do not trade, buy or sell X).

The new proposal replaces the old one through the transition table (pending -> superseded),
points back to it (``revised_from``) and waits for approval again: a person changed it, so a
person approves it, and the firm's policy says whether compliance must too. Its approvers are
told as of a run's new proposals (``notifications.approvers_notify_run``), once it is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing import dispatch, engine
from rebalancing.access import decision_capacity
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import ApprovalPolicy, Proposal, RebalanceRun, RunOutcome, Security, TaxLot
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import IllegalTransition, S, _locked, _move, policy_decide
from rebalancing.services.runs import proposal_build
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, PermissionDenied, ValidationFailed

__all__ = ["INSTRUCTION_ACTIONS", "InstructionAdded", "edit_as_parameters", "instructions_clean", "proposal_resolve"]

# What an advisor may add, in the words the page offers.
INSTRUCTION_ACTIONS = {
    "sell": "Sell all of it",
    "hold": "Do not trade it",
    "do_not_buy": "Do not buy it",
    "do_not_sell": "Do not sell it",
    "raise_cash": "Raise cash",
}
_RESTRICTIONS = ("hold", "do_not_buy", "do_not_sell")


@dataclass(frozen=True)
class InstructionAdded:
    """One instruction added to a proposal: ``action`` on ``symbol`` (and, for a sale, ``buy`` with
    the proceeds; for raising cash, ``amount`` in dollars and no symbol)."""

    action: str
    symbol: str = ""
    buy: str = ""
    amount: Decimal | None = None

    def words(self) -> str:
        if self.action == "sell":
            return f"sell all of {self.symbol}" + (f" and buy {self.buy}" if self.buy else "")
        if self.action == "raise_cash":
            return f"raise ${self.amount:,.2f} cash"
        return {"hold": "do not trade", "do_not_buy": "do not buy", "do_not_sell": "do not sell"}[self.action] \
            + f" {self.symbol}"


def instructions_clean(instructions, drops: list[str], account_id: int) -> list[InstructionAdded]:
    """The edit checked against the proposal and the book: a clear refusal names the problem."""
    out = []
    for n, ins in enumerate(instructions, 1):
        if ins.action not in INSTRUCTION_ACTIONS:
            raise ValidationFailed(f"Instruction {n}: choose one of {', '.join(INSTRUCTION_ACTIONS.values()).lower()}.",
                                   detail={"field": "instructions", "row": n})
        symbol, buy = ins.symbol.strip().upper(), ins.buy.strip().upper()
        if ins.action == "raise_cash":
            if ins.amount is None or not Decimal(ins.amount).is_finite() or ins.amount <= 0:
                raise ValidationFailed(f"Instruction {n}: give the amount of cash to raise ($).",
                                       detail={"field": "instructions", "row": n})
            out.append(InstructionAdded("raise_cash", amount=ins.amount))
            continue
        if not symbol:
            raise ValidationFailed(f"Instruction {n}: name the security.", detail={"field": "instructions", "row": n})
        if buy and ins.action != "sell":
            raise ValidationFailed(f"Instruction {n}: only a sale buys another security with the proceeds.",
                                   detail={"field": "instructions", "row": n})
        out.append(InstructionAdded(ins.action, symbol, buy))
    known = set(Security.objects.filter(symbol__in={s for i in out for s in (i.symbol, i.buy) if s})
                .values_list("symbol", flat=True))
    unknown = sorted({s for i in out for s in (i.symbol, i.buy) if s and s not in known})
    if unknown:
        raise ValidationFailed(f"Not in the security master: {', '.join(unknown)}.", detail={"symbols": unknown})
    sold = {i.symbol for i in out if i.action == "sell"}
    held = set(TaxLot.objects.filter(account_id=account_id, security__symbol__in=sold, quantity__gt=0)
               .values_list("security__symbol", flat=True))
    if sold - held:
        raise ValidationFailed(f"The account holds no {', '.join(sorted(sold - held))} to sell.",
                               detail={"symbols": sorted(sold - held)})
    kept = set(drops) | {i.symbol for i in out if i.action in ("hold", "do_not_sell")}
    if sold & kept:
        raise ValidationFailed(f"{', '.join(sorted(sold & kept))} cannot be both sold and left untraded.",
                               detail={"symbols": sorted(sold & kept)})
    bought = {i.buy for i in out if i.buy}
    barred = bought & (set(drops) | {i.symbol for i in out if i.action in ("hold", "do_not_buy")})
    if barred:
        raise ValidationFailed(f"{', '.join(sorted(barred))} cannot be both bought and left unbought.",
                               detail={"symbols": sorted(barred)})
    return out


def edit_as_parameters(parameters: dict, drops: list[str], added: list[InstructionAdded]) -> dict:
    """The edit as parameter values over the proposal's (lists are replaced whole when merged)."""
    restrictions = parameters.get("restrictions") or {}
    edit: dict = {"restrictions": {}}
    for kind in _RESTRICTIONS:
        extra = (drops if kind == "hold" else []) + [i.symbol for i in added if i.action == kind]
        edit["restrictions"][kind] = sorted(set(restrictions.get(kind) or ()) | set(extra))
    edit["instructions"] = list(parameters.get("instructions") or ()) + [
        {"kind": "sell_buy", "sell": i.symbol, "buy": i.buy or None} if i.action == "sell"
        else {"kind": "raise_cash", "amount": float(i.amount)}
        for i in added if i.action in ("sell", "raise_cash")
    ]
    return edit


@transaction.atomic
def proposal_resolve(*, proposal: Proposal, drop_symbols=(), instructions=(), by) -> Proposal:
    """Solve a pending proposal's account again without the dropped trades and with the added
    instructions; the new proposal supersedes it and waits for approval. Returns the new proposal.
    A refused or unsolvable edit raises and writes nothing."""
    old = _locked(proposal)
    if old.status != S.PENDING:
        # An edit retried after it went through finds its proposal superseded: name the revision it made.
        into = Proposal.objects.filter(revised_from=old).values_list("pk", flat=True).first()
        raise IllegalTransition(
            f"Only a proposal pending approval can be edited; this one is {old.get_status_display().lower()}"
            + (f" (revised into #{into})." if into else "."),
            detail={"status": old.status, **({"revised_into": into} if into else {})})
    if decision_capacity(by, old) is None:
        raise PermissionDenied("You may not decide on this proposal, so you may not edit it.",
                               detail={"proposal": old.pk})
    if old.household_proposal_id:
        # Changing one account alone would undo what the joint solve placed across the others: the
        # household's proposal is edited as one (services.household_revisions), on its page or the API.
        raise Conflict("This account was solved with its household as one: edit or decide the household's "
                       f"proposals together (household proposal #{old.household_proposal_id}, on the household's "
                       "page).", code="household_proposal",
                       detail={"household_proposal": old.household_proposal_id})
    traded = {t["symbol"]: t["side"] for t in (old.result or {}).get("trades") or ()}
    drops = sorted({s.strip().upper() for s in drop_symbols if s.strip()})
    missing = [s for s in drops if s not in traded]
    if missing:
        raise ValidationFailed(f"The proposal does not trade {', '.join(missing)}.", detail={"symbols": missing})
    added = instructions_clean(instructions, drops, old.account_id)
    if not drops and not added:
        raise ValidationFailed("Drop a trade or add an instruction before solving again.", detail={"field": "edit"})

    edit = edit_as_parameters(old.parameters, drops, added)
    [inputs] = rebalance_inputs_load([old.account_id], as_of=old.run.as_of, edits={old.account_id: edit})
    if inputs.error is not None:
        raise ValidationFailed(f"The edited proposal cannot be solved: {inputs.error.message}",
                               code=inputs.error.code, detail=inputs.error.detail)
    try:
        result = engine.rebalance(inputs.request)
    except engine.EngineError as exc:
        raise ValidationFailed(f"The edited proposal cannot be solved: {exc.message}", code=exc.code,
                               detail=exc.detail or {}) from None
    if not result.trades:
        raise Conflict("With these edits nothing is left to trade: reject the proposal instead.",
                       code="nothing_to_trade")

    now = timezone.now()
    run = RebalanceRun.objects.create(
        kind=RebalanceRun.Kind.REVISION, scope=RunScope(account_ids=(old.account_id,)).to_dict(), as_of=old.run.as_of,
        started_by=by, started_by_label=by.get_username(), total=1, done=1, status=RebalanceRun.Status.COMPLETED,
        started_at=now, finished_at=now)
    audit_record(actor=by, action=Action.RUN_START, obj=run,
                 after={"scope": run.scope, "kind": run.kind, "as_of": str(run.as_of), "accounts": 1})
    changes = [f"dropped the {traded[s]} of {s}" for s in drops] + [i.words() for i in added]
    new = proposal_build(run, inputs, result, inputs.fingerprint)
    new.revised_from, new.revised_by = old, by
    new.revision = {"dropped": [{"symbol": s, "side": traded[s]} for s in drops],
                    "instructions": [i.words() for i in added], "changes": changes}
    new.save()
    RunOutcome.objects.create(run=run, account_id=old.account_id, outcome=RunOutcome.Outcome.PROPOSED)

    words = "; ".join(changes)
    _move(old, S.SUPERSEDED, actor=by, action=Action.PROPOSAL_SUPERSEDE, comment=f"revised into #{new.pk}: {words}")
    decision = policy_decide(ApprovalPolicy.current(), new, discretionary=old.account.discretionary)
    new.requires_compliance = decision.requires_compliance
    _move(new, S.PENDING, actor=by, action=Action.PROPOSAL_SUBMIT, comment="; ".join(decision.reasons))
    audit_record(actor=by, action=Action.PROPOSAL_REVISE, obj=new, comment=words,
                 before={"proposal": old.pk, "trades": old.trade_count, "estimated_tax": str(old.estimated_tax)},
                 after={"proposal": new.pk, "trades": new.trade_count, "estimated_tax": str(new.estimated_tax),
                        "dropped": drops, "instructions": [i.words() for i in added]})
    # Approvers hear of it as of a run's new proposals (their notification preferences apply).
    transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run.pk))
    return new
