"""The firm's restricted list, kept by compliance (and firm admins): securities no account of the firm
may buy, or trade at all, for a while, each with its reason. Every account's effective parameters
take the entries in force on the run's day (``selectors.account_parameters``), so runs, what-ifs and
household runs never buy them, and a proposal that trades one needs compliance's approval where the
policy says so. Adding, changing and lifting an entry are audited; an entry is never deleted.

An entry that binds today takes effect on the open proposals too: those that trade the security
against it (solved on a day it did not bind) are superseded; one that starts later is checked when a
proposal is approved or released (``services.proposals``)."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.input_limits import character_name, unseen_character
from rebalancing.access import require
from rebalancing.engine_inputs import FIRST_BOOK_DAY
from rebalancing.models import RestrictedSecurity, Security
from rebalancing.services.proposals import proposals_supersede_restricted
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["RESTRICTION_WORDS", "restricted_add", "restricted_change", "restricted_lift", "superseded_words"]

RESTRICTION_WORDS = {"do_not_buy": "do not buy", "do_not_trade": "do not trade"}
_FIELDS = ("restriction", "reason", "starts_on", "until")
_UNSET = object()
# How far ahead an entry may start: compliance restricts what it knows of now (a deal, a blackout
# window); a start years away is a mistyped year (2062 for 2026), and 9999-12-31 would stand in the
# way of every correct entry of the security ("already on the restricted list from Dec 31, 9999").
START_YEARS_AHEAD = 5


def _snapshot(entry: RestrictedSecurity) -> dict:
    return {"symbol": entry.security.symbol, "restriction": entry.restriction, "reason": entry.reason,
            "starts_on": entry.starts_on.isoformat(), "until": entry.until.isoformat() if entry.until else None}


def _hidden_refuse(text: str, what: str, field: str, *, multi_line: bool = False) -> None:
    """Refuse a control or invisible character as the imports and the API do (``imports.cells``), naming
    it and where it is: "AM\u200bZN" looks like AMZN and is not; a reason keeps its line breaks."""
    character = unseen_character(text, multi_line=multi_line)
    if character is not None:
        raise ValidationFailed(f"The {what} {text[:80]!r} contains {character_name(character)} "
                               f"(U+{ord(character):04X}) at position {text.index(character) + 1}, which cannot be "
                               "seen; remove it.", detail={"field": field})


def _text(value, what: str, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationFailed(f"Give the {what}.", detail={"field": field})
    _hidden_refuse(text, what, field, multi_line=True)
    return text


def _binds(entry: RestrictedSecurity, today: date) -> bool:
    return entry.lifted_on is None and entry.starts_on <= today and (entry.until is None or entry.until >= today)


def superseded_words(superseded: int) -> str:
    """What the page adds about the open proposals an entry superseded (nothing when none)."""
    if not superseded:
        return ""
    return (f" {superseded} open proposal{'s' if superseded != 1 else ''} trading it against the entry "
            f"{'were' if superseded != 1 else 'was'} superseded: the next run proposes again.")


def _restriction(value) -> str:
    if value not in RESTRICTION_WORDS:
        raise ValidationFailed(f"The restriction is “do_not_buy” or “do_not_trade”, not {value!r}.",
                               detail={"field": "restriction"})
    return value


def _dates(starts_on, until, *, today: date) -> None:
    """From the book's first day (1900-01-01, as every date of the product: ``FIRST_BOOK_DAY``) to
    ``START_YEARS_AHEAD`` years from today; ``until`` not before it (and open above: a far ``until``
    means "until lifted")."""
    if not isinstance(starts_on, date):
        raise ValidationFailed("Give the day the restriction starts (from).", detail={"field": "starts_on"})
    if until is not None and not isinstance(until, date):
        raise ValidationFailed("The until date is not a date.", detail={"field": "until"})
    if starts_on < FIRST_BOOK_DAY:
        raise ValidationFailed(f"The from date {starts_on.isoformat()} is before {FIRST_BOOK_DAY.isoformat()}, the "
                               "book's first day: check the year.", detail={"field": "starts_on"})
    latest = _years_after(today, START_YEARS_AHEAD)
    if starts_on > latest:
        raise ValidationFailed(f"The from date {starts_on.isoformat()} is more than {START_YEARS_AHEAD} years ahead "
                               f"(after {latest.isoformat()}): a restriction starts on a day known now; check the "
                               "year.", detail={"field": "starts_on"})
    if until is not None and until < starts_on:
        raise ValidationFailed(f"The until date {until:%b %-d, %Y} is before the from date {starts_on:%b %-d, %Y}.",
                               detail={"field": "until"})


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _overlapping(security: Security, starts_on: date, until: date | None, *, besides: int | None = None):
    """Another entry of the security binding a day of [starts_on, until]."""
    others = RestrictedSecurity.objects.filter(security=security).filter(
        Q(until__isnull=True) | Q(until__gte=starts_on), Q(lifted_on__isnull=True) | Q(lifted_on__gt=starts_on))
    if until is not None:
        others = others.filter(starts_on__lte=until)
    return others.exclude(pk=besides).order_by("starts_on").first()


def _refuse_overlap(security: Security, starts_on: date, until: date | None, *, besides: int | None = None) -> None:
    other = _overlapping(security, starts_on, until, besides=besides)
    if other is not None:
        span = f"from {other.starts_on:%b %-d, %Y}" + (f" until {other.until:%b %-d, %Y}" if other.until else "")
        raise ValidationFailed(
            f"{security.symbol} is already on the restricted list {span} ({RESTRICTION_WORDS[other.restriction]}): "
            "change or lift that entry instead.", detail={"field": "symbol", "entry": other.pk})


@transaction.atomic
def restricted_add(*, symbol: str, restriction: str, reason: str, starts_on: date, until: date | None = None,
                   by, today: date | None = None) -> RestrictedSecurity:
    """Put a security of the firm's master on the restricted list from ``starts_on`` (to ``until``,
    its last day; open: until lifted). Binding ``today``, it supersedes the open proposals that
    trade the security against it; how many: ``entry.superseded``."""
    require(by, Capability.MANAGE_RESTRICTED_LIST)
    symbol = str(symbol or "").strip().upper()
    if not symbol:
        raise ValidationFailed("Give the security's symbol.", detail={"field": "symbol"})
    _hidden_refuse(symbol, "symbol", "symbol")
    security = Security.objects.select_for_update().filter(symbol=symbol).first()
    if security is None:
        raise ValidationFailed(f"{symbol} is not a security of the firm (not in the security master): "
                               "import it first, or check the symbol.", detail={"field": "symbol", "symbol": symbol})
    restriction = _restriction(restriction)
    reason = _text(reason, "reason it is restricted", "reason")
    today = today or timezone.localdate()
    _dates(starts_on, until, today=today)
    _refuse_overlap(security, starts_on, until)
    entry = RestrictedSecurity.objects.create(security=security, restriction=restriction, reason=reason,
                                              starts_on=starts_on, until=until, added_by=by)
    audit_record(actor=by, action=Action.RESTRICTED_ADD, obj=entry, after=_snapshot(entry))
    entry.superseded = 0
    if _binds(entry, today):
        entry.superseded = proposals_supersede_restricted(
            entry, actor=by,
            because=f"{symbol} was put on the firm's restricted list ({RESTRICTION_WORDS[restriction]}): {reason}")
    return entry


def _locked(entry_or_id) -> RestrictedSecurity:
    pk = getattr(entry_or_id, "pk", entry_or_id)
    entry = RestrictedSecurity.objects.select_for_update().select_related("security").filter(pk=pk).first()
    if entry is None:
        raise ValidationFailed("No such entry of the restricted list.", detail={"field": "entry"})
    return entry


@transaction.atomic
def restricted_change(*, entry, by, restriction: str | None = None, reason: str | None = None,
                      starts_on: date | None = None, until=_UNSET, today: date | None = None) -> RestrictedSecurity:
    """Change an entry not lifted: what is restricted, the reason, its dates (``until=None`` opens
    it). Nothing given that differs: nothing recorded. Binding ``today`` after the change, it
    supersedes the open proposals that trade the security against it (``entry.superseded``)."""
    require(by, Capability.MANAGE_RESTRICTED_LIST)
    entry = _locked(entry)
    entry.superseded = 0
    if entry.lifted_on is not None:
        raise ValidationFailed(f"This entry was lifted on {entry.lifted_on:%b %-d, %Y}: add a new entry instead.",
                               detail={"field": "entry"})
    before = _snapshot(entry)
    if restriction is not None:
        entry.restriction = _restriction(restriction)
    if reason is not None:
        entry.reason = _text(reason, "reason it is restricted", "reason")
    if starts_on is not None:
        entry.starts_on = starts_on
    if until is not _UNSET:
        entry.until = until
    today = today or timezone.localdate()
    _dates(entry.starts_on, entry.until, today=today)
    after = _snapshot(entry)
    changed = sorted(f for f in _FIELDS if before[f] != after[f])
    if not changed:
        return entry
    _refuse_overlap(entry.security, entry.starts_on, entry.until, besides=entry.pk)
    entry.save()
    audit_record(actor=by, action=Action.RESTRICTED_CHANGE, obj=entry,
                 before={"symbol": before["symbol"], **{f: before[f] for f in changed}},
                 after={"symbol": after["symbol"], **{f: after[f] for f in changed}})
    if _binds(entry, today):
        entry.superseded = proposals_supersede_restricted(
            entry, actor=by, because=f"{entry.security.symbol}'s entry on the firm's restricted list was changed "
                                     f"and binds ({RESTRICTION_WORDS[entry.restriction]}): {entry.reason}")
    return entry


@transaction.atomic
def restricted_lift(*, entry, reason: str, by, on: date | None = None) -> RestrictedSecurity:
    """Lift an entry from today (``on``): it binds no day from then; its history stays."""
    require(by, Capability.MANAGE_RESTRICTED_LIST)
    entry = _locked(entry)
    reason = _text(reason, "reason it is lifted", "reason")
    on = on or timezone.localdate()
    if entry.lifted_on is not None:
        raise ValidationFailed(f"This entry was already lifted on {entry.lifted_on:%b %-d, %Y}.",
                               detail={"field": "entry"})
    if entry.until is not None and entry.until < on:
        raise ValidationFailed(f"This entry ended on {entry.until:%b %-d, %Y}: there is nothing to lift.",
                               detail={"field": "entry"})
    entry.lifted_on, entry.lifted_by, entry.lift_reason = on, by, reason
    entry.save(update_fields=["lifted_on", "lifted_by", "lift_reason", "updated_at"])
    audit_record(actor=by, action=Action.RESTRICTED_LIFT, obj=entry, before=_snapshot(entry),
                 after={"lifted_on": on.isoformat()}, comment=reason)
    return entry
