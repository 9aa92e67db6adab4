"""What-if previews for the pages: run the engine on candidate parameters or a candidate model and
report what would change. The change is made through the very service that would save it (so it is
checked the same way), the accounts are loaded as a run loads them, and the change is rolled back:
nothing is stored, and a preview shows what the next run would propose.

Previews of a template or a model solve a sample of the accounts it governs, before and after the
change: fast enough to answer while the person waits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from rebalancing import engine
from rebalancing.access import accounts_visible_to, require
from rebalancing.engine_inputs import AccountInputs, rebalance_inputs_load
from rebalancing.models import Account, ModelPortfolio, ParameterTemplate
from rebalancing.services.book import account_overrides_set, model_version_create, template_save
from rebalancing.services.revisions import request_beside_open
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = [
    "AccountPreview",
    "ChangePreview",
    "SampleRow",
    "account_overrides_preview",
    "account_overrides_save",
    "model_change_preview",
    "template_change_preview",
]

# Accounts listed individually in a change preview (the most affected first).
ROWS_SHOWN = 12


@dataclass(frozen=True)
class Outcome:
    """One solve: its summary and trades (``error`` set instead when the engine refused)."""

    trade_count: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_code: str = ""
    error: str = ""

    @property
    def estimated_tax(self) -> float:
        return float(self.summary.get("estimated_tax") or 0)

    @property
    def turnover(self) -> float:
        return float(self.summary.get("turnover") or 0)

    def trade_keys(self) -> frozenset[tuple[str, str, float]]:
        return frozenset((t["symbol"], t["side"], round(t["quantity"], 2)) for t in self.trades)


@dataclass(frozen=True)
class AccountPreview:
    """An account under its current parameters and under the candidate overrides."""

    account_id: int
    overrides: dict[str, Any]
    current: Outcome
    candidate: Outcome


@dataclass(frozen=True)
class SampleRow:
    account_id: int
    custodian_number: str
    name: str
    before: Outcome
    after: Outcome

    @property
    def changed(self) -> bool:
        return self.before.error != self.after.error or self.before.trade_keys() != self.after.trade_keys()


@dataclass(frozen=True)
class ChangePreview:
    """What a template or model change does to a sample of the accounts it governs."""

    accounts_total: int  # accounts the change applies to (that the user may see)
    sampled: int
    changed: int  # sampled accounts whose proposed trades differ
    trading_before: int
    trading_after: int
    estimated_tax_before: float  # summed over the sample
    estimated_tax_after: float
    turnover_before: float  # mean over the sample
    turnover_after: float
    failures_after: int
    rows: list[SampleRow]  # the most affected sampled accounts
    problems: list[str] = field(default_factory=list)  # why some accounts could not be previewed

    @property
    def extra_tax(self) -> float:
        return self.estimated_tax_after - self.estimated_tax_before

    @property
    def extra_tax_extrapolated(self) -> float:
        """The sample's extra tax scaled to every account the change applies to."""
        return self.extra_tax * self.accounts_total / self.sampled if self.sampled else 0.0

    @property
    def changed_extrapolated(self) -> int:
        return round(self.changed * self.accounts_total / self.sampled) if self.sampled else 0


def _today() -> date:
    return timezone.localdate()


def _solve(request: engine.RebalanceRequest) -> Outcome:
    try:
        result = engine.rebalance(request)
    except engine.EngineError as exc:
        return Outcome(error_code=exc.code, error=exc.message)
    data = engine.result_to_dict(result)
    return Outcome(trade_count=result.summary.trade_count, summary=data["summary"], trades=data["trades"],
                   warnings=list(result.warnings))


def _failed(inputs: AccountInputs) -> Outcome:
    return Outcome(error_code=inputs.error.code, error=inputs.error.message)


@contextmanager
def _rolled_back():
    """Make a change, look, and undo it: a savepoint that is always rolled back."""
    with transaction.atomic():
        savepoint = transaction.savepoint()
        try:
            yield
        finally:
            transaction.savepoint_rollback(savepoint)


def _loaded_under(change: Callable[[], object], account_ids: list[int], as_of: date) -> dict[int, AccountInputs]:
    """The engine's inputs for these accounts as if ``change`` (a saving service) had been made."""
    with _rolled_back():
        change()
        return {i.account_id: i for i in rebalance_inputs_load(account_ids, as_of=as_of)}


def account_overrides_preview(*, account: Account, overrides: dict[str, Any], user,
                              as_of: date | None = None) -> AccountPreview:
    """The account's proposal under its current parameters and under ``overrides`` (replacing its
    own overrides), refusing what saving would refuse. Stores nothing."""
    require(user, Capability.EDIT_PARAMETERS)
    as_of = as_of or _today()
    [inputs] = rebalance_inputs_load([account.pk], as_of=as_of)
    if inputs.error is not None:
        raise inputs.error
    after = _loaded_under(lambda: account_overrides_set(account=account, overrides=overrides, user=user),
                          [account.pk], as_of)[account.pk]
    # Solved as an edit or instruction is: after the household's other open proposals on its returns.
    candidate = _failed(after) if after.error is not None else _solve(request_beside_open(after, as_of))
    return AccountPreview(account_id=account.pk, overrides=overrides,
                          current=_solve(request_beside_open(inputs, as_of)), candidate=candidate)


def _engine_problem(inputs: AccountInputs, as_of: date) -> Outcome | None:
    """Why the engine cannot rebalance the account as loaded (None when it can)."""
    outcome = _failed(inputs) if inputs.error is not None else _solve(request_beside_open(inputs, as_of))
    return outcome if outcome.error else None


@transaction.atomic
def account_overrides_save(*, account: Account, overrides: dict[str, Any], user, as_of: date | None = None) -> Account:
    """Save an account's overrides (``account_overrides_set``), refusing those the engine cannot
    rebalance the account with - a sleeve direct-indexed without a benchmark, limits no trade can
    meet - where its current parameters do not fail the same way: otherwise the next run fails on
    what was just saved. Nothing is saved when refused; an account already failing for another
    reason (no price, say) still takes the change."""
    as_of = as_of or _today()
    [before] = rebalance_inputs_load([account.pk], as_of=as_of)
    saved = account_overrides_set(account=account, overrides=overrides, user=user)
    [after] = rebalance_inputs_load([account.pk], as_of=as_of)
    problem = _engine_problem(after, as_of)
    if problem is not None:
        current = _engine_problem(before, as_of)
        if current is None or current.error != problem.error:
            raise ValidationFailed(f"The engine cannot rebalance the account with these values: {problem.error}. "
                                   "Nothing was saved.", detail={"field": "overrides", "engine": problem.error_code})
    return saved


def _sample_ids(ids: list[int], sample: int) -> list[int]:
    """``sample`` ids spread evenly over the book (not just the oldest accounts)."""
    if len(ids) <= sample:
        return ids
    step = len(ids) / sample
    return [ids[int(i * step)] for i in range(sample)]


def _change_preview(accounts_qs, sample: int, as_of: date, change: Callable[[], object]) -> ChangePreview:
    ids = list(accounts_qs.filter(model__isnull=False).order_by("pk").values_list("pk", flat=True))
    chosen = _sample_ids(ids, sample)
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=chosen)}
    after = _loaded_under(change, chosen, as_of)
    rows: list[SampleRow] = []
    problems: list[str] = []
    for inputs in rebalance_inputs_load(chosen, as_of=as_of):
        account = accounts[inputs.account_id]
        before = _failed(inputs) if inputs.error is not None else _solve(inputs.request)
        changed = after[inputs.account_id]
        after_outcome = _failed(changed) if changed.error is not None else _solve(changed.request)
        if after_outcome.error and after_outcome.error not in problems:
            problems.append(after_outcome.error)
        rows.append(SampleRow(account.pk, account.custodian_number, account.name, before, after_outcome))
    ok = [r for r in rows if not r.before.error and not r.after.error]
    n = len(rows)
    rows.sort(key=lambda r: (not r.changed, -abs(r.after.estimated_tax - r.before.estimated_tax),
                             -abs(r.after.turnover - r.before.turnover)))
    return ChangePreview(
        accounts_total=len(ids),
        sampled=n,
        changed=sum(r.changed for r in rows),
        trading_before=sum(r.before.trade_count > 0 for r in rows),
        trading_after=sum(r.after.trade_count > 0 for r in rows),
        estimated_tax_before=sum(r.before.estimated_tax for r in ok),
        estimated_tax_after=sum(r.after.estimated_tax for r in ok),
        turnover_before=sum(r.before.turnover for r in ok) / len(ok) if ok else 0.0,
        turnover_after=sum(r.after.turnover for r in ok) / len(ok) if ok else 0.0,
        failures_after=sum(bool(r.after.error) for r in rows),
        rows=rows[:ROWS_SHOWN],
        problems=problems[:5],
    )


def template_change_preview(*, template: ParameterTemplate, parameters: dict[str, Any], user, sample: int = 50,
                            as_of: date | None = None) -> ChangePreview:
    """What saving ``parameters`` on ``template`` would do to up to ``sample`` of its accounts:
    how many would trade differently, the turnover and the estimated tax, before and after."""
    require(user, Capability.MANAGE_MODELS)

    def change():
        template_save(user=user, code=template.code, name=template.name, parameters=parameters,
                      overridable=template.overridable, description=template.description, template=template)

    return _change_preview(accounts_visible_to(user).governed_by(template), sample, as_of or _today(), change)


def model_change_preview(*, model: ModelPortfolio, sleeves: list, user, sample: int = 50,
                         as_of: date | None = None) -> ChangePreview:
    """What a new version of ``model`` with ``sleeves`` (``SleeveSpec``s) would do to up to
    ``sample`` of the accounts on it: trades, turnover and estimated tax, before and after."""
    require(user, Capability.MANAGE_MODELS)

    def change():
        model_version_create(model=model, sleeves=sleeves, user=user, note="preview")

    return _change_preview(accounts_visible_to(user).filter(model=model), sample, as_of or _today(), change)
