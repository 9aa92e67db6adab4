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

Only the one deciding in the advisor's capacity edits (``proposal_revisable_by``): compliance reviews
what others propose and approves or rejects it, so it never chooses trades it would then approve.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing import dispatch, engine
from rebalancing.access import decision_capacity
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import (
    ApprovalPolicy,
    Proposal,
    ProposalApproval,
    RebalanceRun,
    RunOutcome,
    Security,
    TaxLot,
)
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import IllegalTransition, S, _locked, _move, policy_decide
from rebalancing.services.runs import alerts_record, proposal_build
from rebalancing.services.tax_estimates import (
    proposals_restate_for_ledger,
    realised_open_beside,
    wash_sales_allowed,
)
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.selectors import firm_active_check

__all__ = ["HOUSEHOLD_ONE_OFF_ACTIONS", "INSTRUCTION_ACTIONS", "ONE_OFF_ACTIONS", "InstructionAdded", "edit_as_parameters", "instructions_clean",
           "proposal_resolve", "proposal_revisable_by", "request_beside_open", "revision_permission_check", "run_by_person", "sales_within_holdings", "solve_edited"]

# What an advisor may add to a proposal, in the words the page offers.
INSTRUCTION_ACTIONS = {
    "sell": "Sell it (all, or the amount given)",
    "hold": "Do not trade it",
    "do_not_buy": "Do not buy it",
    "do_not_sell": "Do not sell it",
    "raise_cash": "Raise cash",
}
# What a one-off instruction on an account may ask (services.account_instructions): commands that
# trade. A restriction for one solve only belongs to a proposal's edit; a lasting one to parameters.
ONE_OFF_ACTIONS = {
    "sell": INSTRUCTION_ACTIONS["sell"],
    "raise_cash": INSTRUCTION_ACTIONS["raise_cash"],
    "liquidate": "Sell everything",
    "bring_to_model": "Bring back to the model (drift bands and the tax budget set aside this once)",
    "harvest": "Harvest losses now (the account's harvest thresholds, harvesting on or off)",
}
# An account solved with its household as one (engine.rebalance_household): its sales, cash to
# raise and liquidation are its own, the household's other accounts making up what they move;
# bringing it back to the model brings the household back (its bands and tax budget set aside once).
HOUSEHOLD_ONE_OFF_ACTIONS = {
    "sell": ONE_OFF_ACTIONS["sell"],
    "raise_cash": ONE_OFF_ACTIONS["raise_cash"],
    "liquidate": "Sell everything in this account (the household's other accounts stay on its model)",
    "bring_to_model": "Bring the household back to its model (its drift bands and tax budgets set aside this once)",
    "harvest": "Harvest this account's losses now (none bought back in any account of the household)",
}
_RESTRICTIONS = ("hold", "do_not_buy", "do_not_sell")
_NO_SECURITY = ("raise_cash", "liquidate", "bring_to_model", "harvest")


@dataclass(frozen=True)
class InstructionAdded:
    """One instruction added to a proposal: ``action`` on ``symbol`` (and, for a sale, ``buy`` with
    the proceeds and ``amount``, the dollars to sell when not all of it; for raising cash, ``amount``
    in dollars and no symbol; liquidating and bringing back to the model name no security)."""

    action: str
    symbol: str = ""
    buy: str = ""
    amount: Decimal | None = None

    def words(self) -> str:
        if self.action == "sell":
            what = f"${self.amount:,.2f} of {self.symbol}" if self.amount is not None else f"all of {self.symbol}"
            return f"sell {what}" + (f" and buy {self.buy}" if self.buy else "")
        if self.action == "raise_cash":
            return f"raise ${self.amount:,.2f} cash"
        if self.action == "liquidate":
            return "sell everything"
        if self.action == "bring_to_model":
            return "bring back to the model (drift bands and the tax budget set aside)"
        if self.action == "harvest":
            return "harvest the losses past the harvest thresholds"
        return {"hold": "do not trade", "do_not_buy": "do not buy", "do_not_sell": "do not sell"}[self.action] \
            + f" {self.symbol}"


def _amount_ok(amount) -> bool:
    return amount is not None and Decimal(amount).is_finite() and amount > 0


def instructions_clean(instructions, drops: list[str], account_id: int,
                       actions: dict[str, str] = INSTRUCTION_ACTIONS) -> list[InstructionAdded]:
    """The edit checked against the proposal and the book: a clear refusal names the problem."""
    out = []
    for n, ins in enumerate(instructions, 1):
        row = {"field": "instructions", "row": n}
        if ins.action not in actions:
            raise ValidationFailed(f"Instruction {n}: choose one of {', '.join(actions.values()).lower()}.", detail=row)
        symbol, buy = ins.symbol.strip().upper(), ins.buy.strip().upper()
        if ins.action in _NO_SECURITY and (symbol or buy):
            raise ValidationFailed(f"Instruction {n}: {actions[ins.action].lower()} names no security; "
                                   f"leave the securities empty.", detail=row)
        if ins.amount is not None and ins.action not in ("sell", "raise_cash"):
            # Dropped unsaid, "$5,000" would turn into something else than what was typed.
            raise ValidationFailed(f"Instruction {n}: an amount is for a sale or for raising cash only.", detail=row)
        if ins.action == "raise_cash":
            if ins.amount is None:
                raise ValidationFailed(f"Instruction {n}: give the amount of cash to raise ($).", detail=row)
            if not _amount_ok(ins.amount):  # the same words as a sale's amount
                raise ValidationFailed(f"Instruction {n}: the amount of cash to raise must be a positive number of "
                                       "dollars.", detail=row)
            out.append(InstructionAdded("raise_cash", amount=ins.amount))
            continue
        if ins.action in _NO_SECURITY:
            out.append(InstructionAdded(ins.action))
            continue
        if not symbol:
            raise ValidationFailed(f"Instruction {n}: name the security.", detail=row)
        if buy and ins.action != "sell":
            raise ValidationFailed(f"Instruction {n}: only a sale buys another security with the proceeds.",
                                   detail=row)
        if ins.action == "sell" and ins.amount is not None and not _amount_ok(ins.amount):
            raise ValidationFailed(f"Instruction {n}: the amount to sell must be a positive number of dollars "
                                   "(leave it empty to sell all).", detail=row)
        if buy and buy == symbol:
            raise ValidationFailed(f"Instruction {n}: {symbol} cannot be sold to buy itself.", detail=row)
        out.append(InstructionAdded(ins.action, symbol, buy, ins.amount if ins.action == "sell" else None))
    _repeats_check(out)
    known = set(Security.objects.filter(symbol__in={s for i in out for s in (i.symbol, i.buy) if s})
                .values_list("symbol", flat=True))
    unknown = sorted({s for i in out for s in (i.symbol, i.buy) if s and s not in known})
    if unknown:
        # Said per instruction, as every other refusal of an instruction is ("Instruction 2: ...").
        said = []
        for n, ins in enumerate(instructions, 1):
            missing = [s for s in dict.fromkeys((ins.symbol.strip().upper(), ins.buy.strip().upper())) if s in unknown]
            if missing:
                said.append(f"{'Instruction' if not said else 'instruction'} {n}: {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not in the security master")
        raise ValidationFailed("; ".join(said) + ".", detail={"symbols": unknown})
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


def _repeat_key(i: InstructionAdded) -> tuple[str, str]:
    """What two instructions must not both ask: a security sold once (whatever buys with it), cash
    raised once, each other action once per security."""
    return i.action, i.symbol


def _repeats_check(added: list[InstructionAdded]) -> None:
    """A second instruction doing what an earlier one does is refused by row: the engine sizes each
    sale from the holding as it stands, so two sales of a security spent its value twice, and two
    amounts of cash to raise would be added up unsaid."""
    first: dict[tuple[str, str], int] = {}
    for n, i in enumerate(added, 1):
        m = first.setdefault(_repeat_key(i), n)
        if m == n:
            continue
        row = {"field": "instructions", "row": n}
        said = f"instruction {m}: {added[m - 1].words()}"
        if i.action == "sell":
            raise ValidationFailed(f"Instruction {n} sells {i.symbol} again ({said}): give one sale of {i.symbol} - "
                                   "all of it, or the amount - and the security its proceeds buy.",
                                   detail={**row, "symbol": i.symbol})
        if i.action == "raise_cash":
            raise ValidationFailed(f"Instruction {n} raises cash again ({said}): give the whole amount to raise in "
                                   "one instruction.", detail=row)
        raise ValidationFailed(f"Instruction {n} repeats {said}.", detail=row)


def _carried_check(given: list[dict], added: list[InstructionAdded]) -> None:
    """An added sale of a security the solve's parameters already sell, or cash to raise beside cash
    they already raise (a proposal made by an instruction, edited), is refused by row as a repeat."""
    sold = {g.get("sell"): g for g in given if g.get("kind") == "sell_buy"}
    raised = next((g for g in given if g.get("kind") == "raise_cash"), None)
    for n, i in enumerate(added, 1):
        row = {"field": "instructions", "row": n}
        if i.action == "sell" and i.symbol in sold:
            g = sold[i.symbol]
            was = InstructionAdded("sell", i.symbol, g.get("buy") or "",
                                   None if g.get("amount") is None else Decimal(str(g["amount"])))
            raise ValidationFailed(f"Instruction {n}: {i.symbol} is already sold by an instruction this solve carries "
                                   f"({was.words()}); a second sale would count its value twice. Give one sale of "
                                   f"{i.symbol}.", detail={**row, "symbol": i.symbol})
        if i.action == "raise_cash" and raised is not None:
            was = InstructionAdded("raise_cash", amount=Decimal(str(raised.get("amount") or 0)))
            raise ValidationFailed(f"Instruction {n}: cash is already raised by an instruction this solve carries "
                                   f"({was.words()}); give the whole amount to raise in one instruction.", detail=row)


def edit_as_parameters(parameters: dict, drops: list[str], added: list[InstructionAdded]) -> dict:
    """The edit as parameter values over the proposal's (lists are replaced whole when merged).
    An added sale or cash to raise that the parameters' instructions already give is refused
    (``_carried_check``)."""
    _carried_check(list(parameters.get("instructions") or ()), added)
    restrictions = parameters.get("restrictions") or {}
    edit: dict = {"restrictions": {}}
    for kind in _RESTRICTIONS:
        extra = (drops if kind == "hold" else []) + [i.symbol for i in added if i.action == kind]
        edit["restrictions"][kind] = sorted(set(restrictions.get(kind) or ()) | set(extra))
    edit["instructions"] = list(parameters.get("instructions") or ()) + [
        _engine_instruction(i) for i in added if i.action not in (*_RESTRICTIONS, "harvest")]
    if any(i.action == "harvest" for i in added):
        # Harvesting switched on for this solve only, at the thresholds and substitutes the account has.
        edit["harvest"] = {"enabled": True}
    return edit


def _engine_instruction(i: InstructionAdded) -> dict:
    if i.action == "sell":
        sale = {"kind": "sell_buy", "sell": i.symbol, "buy": i.buy or None}
        return sale if i.amount is None else {**sale, "amount": float(i.amount)}
    if i.action == "raise_cash":
        return {"kind": "raise_cash", "amount": float(i.amount)}
    return {"kind": i.action}


def solve_edited(account_id: int, as_of, edit: dict, added: list[InstructionAdded], *, refusal: str):
    """The account's inputs with ``edit`` laid over its parameters, and the engine's result; a
    refusal (inputs that cannot be built, a sale beyond the holding, the engine's) starts ``refusal``."""
    [inputs] = rebalance_inputs_load([account_id], as_of=as_of, edits={account_id: edit})
    if inputs.error is not None:
        raise ValidationFailed(f"{refusal}: {inputs.error.message}", code=inputs.error.code,
                               detail=inputs.error.detail)
    sales_within_holdings(inputs.request, added)
    inputs = dataclasses.replace(inputs, request=request_beside_open(inputs, as_of))
    try:
        return inputs, engine.rebalance(inputs.request)
    except engine.EngineError as exc:
        raise ValidationFailed(f"{refusal}: {exc.message}", code=exc.code, detail=exc.detail or {}) from None


def request_beside_open(inputs, as_of):
    """``inputs``' request with its returns' year so far after the household's other open proposals
    (``realised_planned_beside``): an account solved on its own nets after them all."""
    request = inputs.request
    beside = realised_planned_beside(inputs.account_id, inputs.household_id, as_of)
    if not beside or not request.account.tax_returns:
        return request
    account = dataclasses.replace(request.account, tax_returns=engine.returns_after(request.account.tax_returns, beside))
    return dataclasses.replace(request, account=account)


def realised_planned_beside(account_id: int, household_id: int | None, as_of) -> dict[str, tuple[float, float]]:
    """What the household's other accounts' open proposals (waiting for approval, release or fills) would
    realise, net, on each tax return (``tax_estimates.realised_open_beside``): an account solved on
    its own then nets its sales after them on a return they share, as it would have in the run that
    made them. A released proposal counts for its sales still open (its fills are in the year so far)."""
    if household_id is None:
        return {}
    return realised_open_beside([household_id], [account_id], as_of.year).get(household_id, {})


def run_by_person(kind: str, scope: RunScope, as_of, by, *, accounts: int) -> RebalanceRun:
    """The completed run a person's solve in the request is recorded under (an edit, an instruction).
    Refused in a suspended firm (the request's transaction then writes nothing)."""
    firm_active_check("No proposal is made or edited")
    now = timezone.now()
    run = RebalanceRun.objects.create(
        kind=kind, scope=scope.to_dict(), as_of=as_of, started_by=by, started_by_label=by.get_username(),
        total=accounts, done=accounts, status=RebalanceRun.Status.COMPLETED, started_at=now, finished_at=now)
    audit_record(actor=by, action=Action.RUN_START, obj=run,
                 after={"scope": run.scope, "kind": run.kind, "as_of": str(as_of), "accounts": accounts})
    return run


def sales_within_holdings(request, added: list[InstructionAdded]) -> None:
    """A sale of more dollars than the account holds of a security is refused by name: the engine
    would sell all of it, and the proposal would quietly be something else than what was asked."""
    if request is None:
        return
    lots = request.account.lots
    pairs = zip(lots.symbols, lots.quantity, strict=True) if isinstance(lots, engine.LotTable) \
        else ((lot.symbol, lot.quantity) for lot in lots)
    price = {s.symbol: s.price for s in request.securities}
    held: dict[str, float] = {}
    for symbol, quantity in pairs:
        held[symbol] = held.get(symbol, 0.0) + float(quantity) * price[symbol]
    for n, i in enumerate(added, 1):
        if i.action == "sell" and i.amount is not None and float(i.amount) > held.get(i.symbol, 0.0) + 0.005:
            raise ValidationFailed(f"Instruction {n}: the account holds ${held.get(i.symbol, 0.0):,.2f} of {i.symbol}; "
                                   f"it cannot sell ${i.amount:,.2f}. Leave the amount empty to sell all of it.",
                                   detail={"field": "instructions", "row": n, "symbol": i.symbol})


def proposal_revisable_by(user, proposal: Proposal) -> bool:
    """Whether ``user`` may edit what ``proposal`` trades now: only in the advisor's capacity (the
    household's advisor; a portfolio manager where it has none), never compliance's."""
    return decision_capacity(user, proposal) == ProposalApproval.Capacity.ADVISOR


def revision_permission_check(user, proposal: Proposal, *, what: str = "this proposal") -> None:
    """Refuse ``user`` an edit of ``proposal`` (``proposal_revisable_by``), saying why."""
    capacity = decision_capacity(user, proposal)
    if capacity == ProposalApproval.Capacity.ADVISOR:
        return
    if capacity == ProposalApproval.Capacity.COMPLIANCE:
        raise PermissionDenied(f"Compliance approves or rejects {what}; what it trades is edited by the household's "
                               "advisor (or a portfolio manager where it has none).",
                               detail={"proposal": proposal.pk, "capacity": capacity})
    raise PermissionDenied(f"You may not decide on {what}, so you may not edit it.", detail={"proposal": proposal.pk})


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
    revision_permission_check(by, old)
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
    inputs, result = solve_edited(old.account_id, old.run.as_of, edit, added,
                                  refusal="The edited proposal cannot be solved")
    if not result.trades:
        raise Conflict("With these edits nothing is left to trade: reject the proposal instead.",
                       code="nothing_to_trade")

    run = run_by_person(RebalanceRun.Kind.REVISION, RunScope(account_ids=(old.account_id,)), old.run.as_of, by,
                        accounts=1)
    changes = [f"dropped the {traded[s]} of {s}" for s in drops] + [i.words() for i in added]
    new = proposal_build(run, inputs, result, inputs.fingerprint)
    restated = restated_for_ledger(new, old.run.as_of)
    new.revised_from, new.revised_by, new.chosen_by = old, by, old.chosen_by_with(by)
    new.revision = {"dropped": [{"symbol": s, "side": traded[s]} for s in drops],
                    "instructions": [i.words() for i in added], "changes": changes}
    new.save()
    RunOutcome.objects.create(run=run, account_id=old.account_id, outcome=RunOutcome.Outcome.PROPOSED)
    alerts_record(run, [(old.account_id, result)], restated=restated)

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


def restated_for_ledger(new: Proposal, as_of) -> list[Proposal]:
    """A person's new proposal (an edit, a one-off instruction) with the ledger's figures in place of
    the engine's estimate when its household allows wash sales (``tax_estimates``), netted after the
    household's other open proposals; the proposals restated (it, or none)."""
    if not wash_sales_allowed(new):
        return []
    household_id = new.account.household_id
    return proposals_restate_for_ledger([new], as_of=as_of, open_before={
        household_id: realised_planned_beside(new.account_id, household_id, as_of)})
