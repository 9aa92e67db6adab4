"""The firm-wide list of harvest substitutes (``Security.harvest_substitute``): for a security, the
one bought with the proceeds while it is wash-blocked after a loss sale. Every account uses the list
as its default ``harvest.substitutes``; a template's, household's or account's own pair for the same
security wins (``rebalancing.effective_parameters``)."""

from __future__ import annotations

from django.db import transaction

from rebalancing.access import require
from rebalancing.models import Security
from rebalancing.selectors import firm_harvest_substitutes as harvest_substitutes
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["harvest_substitutes", "harvest_substitutes_set"]


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
