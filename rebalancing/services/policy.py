"""The firm's approval policy, changed by a firm admin (one row per firm; audited before/after)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from rebalancing.access import require
from rebalancing.models import ApprovalPolicy, Proposal
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = ["MIN_PRICE_AGE_DAYS", "POLICY_FIELDS", "approval_policy_set", "proposals_priced_before"]

POLICY_FIELDS = (
    "auto_approve", "auto_max_estimated_tax", "auto_max_turnover", "auto_max_trades", "compliance_min_estimated_tax",
    "compliance_min_turnover", "compliance_on_restricted", "max_price_age_days",
)


MIN_PRICE_AGE_DAYS = 1
# The limits as the policy page names them.
_POLICY_WORDS = {"auto_max_estimated_tax": "automatic approval's tax limit",
                 "compliance_min_estimated_tax": "tax at which compliance approves",
                 "auto_max_turnover": "automatic approval's turnover limit",
                 "compliance_min_turnover": "turnover at which compliance approves"}


def proposals_priced_before(max_age_days: int, *, today: date | None = None) -> int:
    """Open proposals (draft, pending, approved) priced more than ``max_age_days`` ago: what a
    release or the nightly expiry would expire under that limit."""
    from rebalancing.services.proposals import OPEN

    cutoff = (today or timezone.localdate()) - timedelta(days=max_age_days)
    return (Proposal.objects.annotate(priced=Coalesce("priced_on", "run__as_of"))
            .filter(status__in=OPEN, priced__lt=cutoff).count())


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


@transaction.atomic
def approval_policy_set(*, by, **values) -> ApprovalPolicy:
    """Set the policy's fields (turnover as a fraction of account value, tax in the firm's
    currency). Limits that contradict each other are refused, naming both."""
    require(by, Capability.MANAGE_USERS)
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(f"Unknown policy setting(s): {', '.join(unknown)}.", detail={"field": unknown[0]})
    policy = ApprovalPolicy.objects.select_for_update().filter(pk=ApprovalPolicy.current().pk).get()
    before = {f: _plain(getattr(policy, f)) for f in POLICY_FIELDS}
    for name, value in values.items():
        setattr(policy, name, value)
    problems = []
    for name in ("auto_max_estimated_tax", "compliance_min_estimated_tax", "auto_max_turnover",
                 "compliance_min_turnover"):
        if getattr(policy, name) < 0:
            problems.append(f"the {_POLICY_WORDS[name]} cannot be negative")
    if policy.auto_max_turnover > 1 or policy.compliance_min_turnover > 1:
        problems.append("turnover is at most 100% of the account's value")
    if policy.auto_max_estimated_tax > policy.compliance_min_estimated_tax:
        problems.append("the automatic approval's tax limit is above the tax at which compliance must approve")
    if policy.max_price_age_days < MIN_PRICE_AGE_DAYS:
        problems.append(f"prices may be at least {MIN_PRICE_AGE_DAYS} day old at release (a run prices with the last "
                        "close, a day old by the next morning: at 0 no proposal could be released)")
    if policy.auto_max_turnover > policy.compliance_min_turnover:
        problems.append("the automatic approval's turnover limit is above the turnover at which compliance must approve")
    if problems:
        raise ValidationFailed("Policy not saved: " + "; ".join(problems) + ".", detail={"problems": problems})
    try:
        policy.full_clean()
    except DjangoValidationError as exc:  # an amount too large for its column: said, not a server error
        raise fields_refused(exc, "The policy") from None
    policy.save()
    after = {f: _plain(getattr(policy, f)) for f in POLICY_FIELDS}
    changed = {f for f in POLICY_FIELDS if before[f] != after[f]}
    if changed:
        asked = _compliance_asked_now(policy) if changed & _COMPLIANCE_FIELDS else []
        audit_record(actor=by, action=Action.POLICY_CHANGE, obj=policy,
                     before={f: before[f] for f in sorted(changed)},
                     after={**{f: after[f] for f in sorted(changed)},
                            **({"proposals_now_asking_compliance": asked} if asked else {})})
    return policy


_COMPLIANCE_FIELDS = {"compliance_min_estimated_tax", "compliance_min_turnover", "compliance_on_restricted"}


def _compliance_asked_now(policy: ApprovalPolicy) -> list[int]:
    """A tightened policy asks compliance's approval of pending proposals it did not ask at their
    submission: flagged now (a loosened one takes back no review already asked for), so compliance
    may decide them at once and every page reads one stored flag. The proposals flagged, by id."""
    from rebalancing.services.proposals import compliance_flag_now

    pending = (Proposal.objects.select_for_update().select_related("account")
               .filter(status=Proposal.Status.PENDING, requires_compliance=False).order_by("pk"))
    return [p.pk for p in pending if compliance_flag_now(policy, p)]
