"""The firm-wide list of substantially identical securities (``Security.equivalence_group``), which
every account's wash-sale checks use (engine_inputs), edited as groups of symbols."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from rebalancing.access import require
from rebalancing.models import Security
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["equivalence_groups", "equivalence_groups_set"]


def equivalence_groups() -> list[list[str]]:
    """The firm's groups, each its symbols in order, the groups by their first symbol."""
    groups: dict[str, list[str]] = {}
    for symbol, group in Security.objects.exclude(equivalence_group="").order_by("symbol").values_list(
            "symbol", "equivalence_group"):
        groups.setdefault(group, []).append(symbol)
    return sorted(groups.values())


@transaction.atomic
def equivalence_groups_set(*, groups: list[list[str]], by) -> int:
    """Make ``groups`` exactly the firm's groups of substantially identical securities (IRS Pub. 550:
    a loss sale and a purchase of any member within 30 days is a wash sale). Every symbol must be in
    the security master; a symbol in two groups is refused. Returns how many securities changed."""
    require(by, Capability.MANAGE_MODELS)
    wanted: dict[str, str] = {}
    for members in groups:
        if len(members) < 2:
            raise ValidationFailed(f"A group needs at least two securities ({', '.join(members)}).")
        name = members[0].lower()
        for symbol in members:
            if symbol in wanted:
                raise ValidationFailed(f"{symbol} is in two groups; merge them.", detail={"symbol": symbol})
            wanted[symbol] = name
    known = set(Security.objects.filter(symbol__in=wanted).values_list("symbol", flat=True))
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ValidationFailed(f"Not in the security master: {', '.join(unknown)}. Import them first.",
                               detail={"unknown": unknown})
    # A harvest substitute must stay outside its security's group (a wash sale otherwise).
    for symbol, substitute in Security.objects.filter(harvest_substitute__isnull=False).values_list(
            "symbol", "harvest_substitute__symbol"):
        if symbol in wanted and wanted[symbol] == wanted.get(substitute):
            raise ValidationFailed(
                f"{substitute} is {symbol}'s harvest substitute and may not join its group: change the "
                f"substitute first.", detail={"symbol": symbol, "substitute": substitute})
    before = equivalence_groups()
    changed = 0
    listed_or_grouped = Q(symbol__in=list(wanted)) | ~Q(equivalence_group="")
    for security in Security.objects.filter(listed_or_grouped).select_for_update():
        group = wanted.get(security.symbol, "")
        if security.equivalence_group != group:
            security.equivalence_group = group
            security.save(update_fields=["equivalence_group"])
            changed += 1
    if changed:
        audit_record(actor=by, action=Action.SECURITY_EQUIVALENTS, object_type="security",
                     before={"groups": before}, after={"groups": equivalence_groups()})
    return changed

