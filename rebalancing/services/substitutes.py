"""The firm-wide list of harvest substitutes (``Security.harvest_substitute``): for a security, the
one bought with the proceeds while it is wash-blocked after a loss sale. Every account uses the list
as its default ``harvest.substitutes``; a template's, household's or account's own pair for the same
security wins (``rebalancing.effective_parameters``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction

from rebalancing.access import require
from rebalancing.engine.substitutes import return_correlations, substitutes_by_correlation
from rebalancing.models import ModelVersion, Security, SleeveHolding
from rebalancing.selectors import firm_harvest_substitutes as harvest_substitutes
from rebalancing.services.risk_models import price_window
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["MIN_CORRELATION", "SUGGESTION_WINDOW_DAYS", "SubstituteRow", "SubstituteSuggestions", "harvest_substitutes",
           "harvest_substitutes_set", "substitute_suggestions"]


@transaction.atomic
def harvest_substitutes_set(*, pairs: dict[str, str], by) -> int:
    """Make ``pairs`` (symbol -> substitute) exactly the firm's harvest substitutes. Returns how many
    securities changed.

    A substitute must not be substantially identical to what was sold, or buying it within 30 days
    makes the loss a wash sale (IRS Pub. 550; Treas. Reg. §1.1091-1): a security cannot substitute
    itself nor a member of its own equivalence group. Every symbol must be in the security master."""
    require(by, Capability.MANAGE_MODELS)
    pairs = {str(a).strip().upper(): str(b).strip().upper() for a, b in pairs.items()}
    for symbol, substitute in pairs.items():
        if not symbol or not substitute:
            raise ValidationFailed("Each pair needs a security and its substitute.")
        if symbol == substitute:
            raise ValidationFailed(f"{symbol} cannot be its own substitute: buying it back is a wash sale.",
                                   detail={"symbol": symbol})
    named = set(pairs) | set(pairs.values())
    securities = {s.symbol: s for s in Security.objects.filter(symbol__in=named).select_for_update()}
    unknown = sorted(named - set(securities))
    if unknown:
        raise ValidationFailed(f"Not in the security master: {', '.join(unknown)}. Import them first.",
                               detail={"unknown": unknown})
    for symbol, substitute in pairs.items():
        if securities[symbol].substantially_identical_to(securities[substitute]):
            raise ValidationFailed(
                f"{substitute} is substantially identical to {symbol} (same equivalence group): buying it "
                f"after a loss sale of {symbol} is a wash sale. Choose a substitute outside the group.",
                detail={"symbol": symbol, "substitute": substitute})
    before = harvest_substitutes()
    changed = 0
    for security in Security.objects.filter(harvest_substitute__isnull=False).exclude(symbol__in=pairs).select_for_update():
        security.harvest_substitute = None
        security.save(update_fields=["harvest_substitute"])
        changed += 1
    for symbol, substitute in pairs.items():
        security = securities[symbol]
        if security.harvest_substitute_id != securities[substitute].pk:
            security.harvest_substitute = securities[substitute]
            security.save(update_fields=["harvest_substitute"])
            changed += 1
    if changed:
        audit_record(actor=by, action=Action.SECURITY_SUBSTITUTES, object_type="security",
                     before={"substitutes": before}, after={"substitutes": harvest_substitutes()})
    return changed


SUGGESTION_WINDOW_DAYS = 252  # a year of trading days: long enough to measure, short enough to be current
# Below this the best candidate is shown but not suggested: a substitute that moves this little like
# the security holds its place poorly for the 30 days, and the firm should choose one by hand.
MIN_CORRELATION = 0.7


@dataclass(frozen=True)
class SubstituteRow:
    """One security a harvest may sell: its substitute now and the one its returns suggest."""

    symbol: str
    name: str
    asset_class: str
    current: str | None
    current_correlation: float | None
    suggested: str | None  # None too when the best candidate is below MIN_CORRELATION
    correlation: float | None
    best: str | None = None  # the most correlated candidate, suggested or not


@dataclass(frozen=True)
class SubstituteSuggestions:
    rows: list[SubstituteRow]
    days: int  # daily returns measured (0: none, ``problem`` says why)
    first: date | None
    last: date | None
    problem: str = ""


def substitute_suggestions(*, as_of: date, window_days: int = SUGGESTION_WINDOW_DAYS) -> SubstituteSuggestions:
    """For each security the firm's models hold, and each that has a substitute: the security of the
    same asset class, outside its equivalence group, whose daily returns over the last
    ``window_days`` of the firm's prices were most correlated with its own
    (``engine.substitutes_by_correlation``), beside the substitute it has now and that one's
    correlation. Reads only; the firm saves what it chooses with ``harvest_substitutes_set``."""
    held = set(SleeveHolding.objects.filter(sleeve__version__in=_current_versions())
               .values_list("security__symbol", flat=True))
    current = harvest_substitutes()
    wanted = sorted(held | set(current))
    info = {s.symbol: s for s in Security.objects.filter(symbol__in=wanted)}
    try:
        dates, symbols, closes = price_window(as_of, window_days, what="a suggestion by correlation")
    except ValidationFailed as exc:
        rows = [SubstituteRow(s, info[s].name, info[s].asset_class, current.get(s), None, None, None)
                for s in wanted if s in info]
        return SubstituteSuggestions(rows, 0, None, None, exc.message)
    master = {s.symbol: s for s in Security.objects.filter(symbol__in=symbols)}
    suggested = substitutes_by_correlation(
        symbols, closes, asset_classes={s: m.asset_class for s, m in master.items()},
        groups={s: m.equivalence_group or None for s, m in master.items()}, wanted=wanted)
    correlations, moving = return_correlations(closes)
    column = {s: i for i, s in enumerate(symbols)}

    def correlation(a: str, b: str | None) -> float | None:
        if b is None or a not in column or b not in column or not (moving[column[a]] and moving[column[b]]):
            return None
        return float(correlations[column[a], column[b]])

    rows = []
    for s in wanted:
        if s not in info:
            continue
        best = suggested.get(s)
        good = best is not None and best.correlation >= MIN_CORRELATION
        rows.append(SubstituteRow(s, info[s].name, info[s].asset_class, current.get(s), correlation(s, current.get(s)),
                                  best.substitute if good else None, best.correlation if best else None,
                                  best.substitute if best else None))
    return SubstituteSuggestions(rows, len(dates) - 1, dates[0], dates[-1])


def _current_versions():
    """Each model's latest version (``ModelPortfolio.current_version``), in one query."""
    return ModelVersion.objects.order_by("model_id", "-number").distinct("model_id").values("pk")
