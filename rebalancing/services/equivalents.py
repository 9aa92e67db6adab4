"""The firm-wide list of substantially identical securities (``Security.equivalence_group``), which
every account's wash-sale checks use (engine_inputs), edited as groups of symbols.

A group is the securities sharing a label, two or more of them. A label only one security carries
(an imported fund's index that no other security tracks yet) makes no group: a security is always
identical to itself. Such a label is kept until someone names the security, so a later import that
gives a second security the same label makes the group."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.db import transaction

from rebalancing.access import require
from rebalancing.models import Security
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["equivalence_groups", "equivalence_groups_set", "equivalence_labels_alone"]


def _labels() -> dict[str, str]:
    """Every labelled security's label, by symbol."""
    return dict(Security.objects.exclude(equivalence_group="").values_list("symbol", "equivalence_group"))


def _groups_of(labels: dict[str, str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for symbol in sorted(labels):
        groups.setdefault(labels[symbol], []).append(symbol)
    return sorted(g for g in groups.values() if len(g) > 1)


def equivalence_groups() -> list[list[str]]:
    """The firm's groups (two securities or more), each its symbols in order, the groups by their first symbol."""
    return _groups_of(_labels())


def equivalence_labels_alone() -> list[str]:
    """The symbols whose label no other security carries (no group yet), in order."""
    labels = _labels()
    count = Counter(labels.values())
    return sorted(symbol for symbol, label in labels.items() if count[label] == 1)


def _line(lines: Sequence[int] | None, n: int) -> int:
    return lines[n] if lines is not None else n + 1


@transaction.atomic
def equivalence_groups_set(*, groups: Sequence[Sequence[str]], by, lines: Sequence[int] | None = None) -> int:
    """Make ``groups`` exactly the firm's groups of substantially identical securities (IRS Pub. 550:
    a loss sale and a purchase of any member within 30 days is a wash sale). A group of one symbol
    takes that security out of any group (its label cleared). A security in a group not listed leaves
    it; a security whose label is its own (no group) and is not named keeps it. Every symbol must be
    in the security master; a symbol in two groups is refused. ``lines``: the line each group was
    typed on, for the messages. Everything is checked before anything is written. Returns how many
    securities changed label."""
    require(by, Capability.MANAGE_MODELS)
    named: dict[str, int] = {}  # symbol -> index of its group
    for n, members in enumerate(groups):
        for symbol in members:
            if symbol in named:
                raise ValidationFailed(
                    f"{symbol} is in two groups (lines {_line(lines, named[symbol])} and {_line(lines, n)}); merge them.",
                    detail={"symbol": symbol})
            named[symbol] = n
    known = set(Security.objects.filter(symbol__in=named).values_list("symbol", flat=True))
    unknown = sorted(set(named) - known, key=lambda s: (named[s], s))
    if unknown:
        listed = ", ".join(f"{s} (line {_line(lines, named[s])})" for s in unknown)
        raise ValidationFailed(f"Not in the security master: {listed}. Import them first.",
                               detail={"unknown": unknown})

    labels = _labels()
    shared = {symbol for group in _groups_of(labels) for symbol in group}
    # A group keeps a label one of its members already carries (an index name from an import), so
    # saving the page as shown changes nothing; otherwise it is named after its first symbol. A new
    # name never joins a security the page leaves alone.
    kept_alone = {labels[s] for s in labels if s not in named and s not in shared}
    taken = set(kept_alone)
    wanted: dict[str, str] = {}
    for members in groups:
        if len(members) < 2:
            wanted[members[0]] = ""
            continue
        name = next((labels[s] for s in members if labels.get(s) and labels[s] not in taken), "")
        if not name:
            base = name = members[0].lower()
            suffix = 1
            while name in taken:
                suffix += 1
                name = f"{base}_{suffix}"
        taken.add(name)
        wanted.update(dict.fromkeys(members, name))
    after = {s: label for s, label in labels.items() if s not in shared and s not in named}
    after.update({s: label for s, label in wanted.items() if label})

    # A harvest substitute must stay outside its security's group (a wash sale otherwise).
    for symbol, substitute in Security.objects.filter(harvest_substitute__isnull=False).values_list(
            "symbol", "harvest_substitute__symbol"):
        if (symbol in named or substitute in named) and after.get(symbol) and after.get(symbol) == after.get(substitute):
            where = substitute if substitute in named else symbol
            raise ValidationFailed(
                f"Line {_line(lines, named[where])}: {substitute} is {symbol}'s harvest substitute and may not "
                f"join its group: change the substitute first.", detail={"symbol": symbol, "substitute": substitute})

    changed = {s for s in set(labels) | set(after) if labels.get(s, "") != after.get(s, "")}
    for security in Security.objects.filter(symbol__in=changed).select_for_update():
        security.equivalence_group = after.get(security.symbol, "")
        security.save(update_fields=["equivalence_group"])
    if changed:
        audit_record(actor=by, action=Action.SECURITY_EQUIVALENTS, object_type="security",
                     before={"groups": _groups_of(labels), "labels": {s: labels.get(s, "") for s in sorted(changed)}},
                     after={"groups": _groups_of(after), "labels": {s: after.get(s, "") for s in sorted(changed)}})
    return len(changed)
