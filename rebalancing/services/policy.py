"""The firm's approval policy, changed by a firm admin (one row per firm; audited before/after)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from rebalancing.access import require
from rebalancing.models import ApprovalPolicy
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = ["POLICY_FIELDS", "approval_policy_set"]

POLICY_FIELDS = (
    "auto_approve", "auto_max_estimated_tax", "auto_max_turnover", "auto_max_trades", "compliance_min_estimated_tax",
    "compliance_min_turnover", "compliance_on_restricted", "max_price_age_days",
)


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
            problems.append(f"{name.replace('_', ' ')} cannot be negative")
    if policy.auto_max_turnover > 1 or policy.compliance_min_turnover > 1:
        problems.append("turnover is at most 100% of the account's value")
    if policy.auto_max_estimated_tax > policy.compliance_min_estimated_tax:
        problems.append("the automatic approval's tax limit is above the tax at which compliance must approve")
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
        audit_record(actor=by, action=Action.POLICY_CHANGE, obj=policy,
                     before={f: before[f] for f in sorted(changed)}, after={f: after[f] for f in sorted(changed)})
    return policy
