"""Who holds which role, and which advisor looks after which household."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from rebalancing.access import require
from rebalancing.models import Household, HouseholdUserObjectPermission
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability
from tenants.roles import FirmRole

__all__ = ["advisor_assign", "advisor_permissions_repair", "role_grant", "role_revoke"]

_ADVISOR_PERMS = ("rebalancing.view_household", "rebalancing.change_household")


@transaction.atomic
def advisor_assign(*, household: Household, advisor, by) -> Household:
    """Give ``household`` to ``advisor`` (or to nobody with None), moving the object permissions."""
    if by is not None:
        require(by, Capability.MANAGE_USERS)
    if advisor is not None and not advisor.groups.filter(name=FirmRole.ADVISOR).exists():
        raise ValidationFailed(f"{advisor.get_username()} is not an advisor.", detail={"field": "advisor"})
    household = Household.objects.select_for_update().get(pk=household.pk)
    previous = household.advisor
    if previous is not None:
        for perm in _ADVISOR_PERMS:
            remove_perm(perm, previous, household)
    if advisor is not None:
        for perm in _ADVISOR_PERMS:
            assign_perm(perm, advisor, household)
    household.advisor = advisor
    household.save(update_fields=["advisor"])
    audit_record(actor=by, action="household.advisor", obj=household,
                 before={"advisor": previous.get_username() if previous else None},
                 after={"advisor": advisor.get_username() if advisor else None})
    return household


def _role_change(user, role: FirmRole, *, by, grant: bool) -> None:
    if by is not None:
        require(by, Capability.MANAGE_USERS)
    before = sorted(user.groups.values_list("name", flat=True))
    group, _ = Group.objects.get_or_create(name=str(role))
    (user.groups.add if grant else user.groups.remove)(group)
    after = sorted(user.groups.values_list("name", flat=True))
    if before != after:
        audit_record(actor=by, action="user.role.grant" if grant else "user.role.revoke", obj=user,
                     object_type="user", before={"roles": before}, after={"roles": after})


@transaction.atomic
def role_grant(*, user, role: FirmRole, by) -> None:
    _role_change(user, role, by=by, grant=True)


@transaction.atomic
def role_revoke(*, user, role: FirmRole, by) -> None:
    if by is not None and by.pk == user.pk and role == FirmRole.FIRM_ADMIN:
        remaining = get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN).exclude(pk=user.pk)
        if not remaining.exists():
            raise ValidationFailed("The firm's last admin cannot remove their own admin role.")
    _role_change(user, role, by=by, grant=False)


@transaction.atomic
def advisor_permissions_repair() -> int:
    """Grant the object permissions of every household whose advisor lacks them (bulk imports and
    the demo seed set ``Household.advisor`` directly). Returns how many grants were added."""
    perms = list(Permission.objects.filter(content_type__app_label="rebalancing",
                                           codename__in=[p.split(".")[1] for p in _ADVISOR_PERMS]))
    have = set(HouseholdUserObjectPermission.objects.values_list("content_object_id", "user_id", "permission_id"))
    missing = [
        HouseholdUserObjectPermission(content_object_id=hh, user_id=advisor, permission=perm)
        for hh, advisor in Household.objects.filter(advisor__isnull=False).values_list("pk", "advisor_id")
        for perm in perms
        if (hh, advisor, perm.pk) not in have
    ]
    HouseholdUserObjectPermission.objects.bulk_create(missing)
    if missing:
        audit_record(actor="advisor permissions repair", action="household.advisor.repair",
                     after={"grants": len(missing)})
    return len(missing)
