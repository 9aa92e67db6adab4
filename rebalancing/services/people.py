"""Who holds which role, and which advisor looks after which household. Inviting, roles and
deactivation follow ``tenants.people`` (the same rules as the provider's staff)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from rebalancing.access import ADVISOR_PERMISSION, require
from rebalancing.models import Household, HouseholdUserObjectPermission
from tenants import people
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import ROLE_CAPABILITIES, Capability
from tenants.roles import FirmRole

__all__ = [
    "FIRM_PEOPLE", "advisor_assign", "advisors_grant_bulk", "household_advisors_set", "role_grant", "role_revoke",
    "set_password_path", "user_deactivate", "user_invite", "user_reactivate", "user_roles_set",
]

_ADVISOR_PERMS = (f"rebalancing.{ADVISOR_PERMISSION}", "rebalancing.change_household")


@transaction.atomic
def household_advisors_set(*, household: Household, advisors, by) -> Household:
    """Make ``advisors`` (users of the advisor role; empty: nobody) exactly the household's
    advisors, granting and taking their object permissions (the one record of who advises it)."""
    if by is not None:
        require(by, Capability.MANAGE_USERS)
    advisors = {a.pk: a for a in advisors}
    not_advisors = [a.get_username() for a in advisors.values() if not a.groups.filter(name=FirmRole.ADVISOR).exists()]
    if not_advisors:
        raise ValidationFailed(f"{', '.join(sorted(not_advisors))} {'is' if len(not_advisors) == 1 else 'are'} "
                               "not an advisor.", detail={"field": "advisors"})
    household = Household.objects.select_for_update().get(pk=household.pk)
    previous = {u.pk: u for u in household.advisors}
    for user in previous.values():
        if user.pk not in advisors:
            for perm in _ADVISOR_PERMS:
                remove_perm(perm, user, household)
    for user in advisors.values():
        if user.pk not in previous:
            for perm in _ADVISOR_PERMS:
                assign_perm(perm, user, household)
    before = sorted(u.get_username() for u in previous.values())
    after = sorted(u.get_username() for u in advisors.values())
    if before != after:
        audit_record(actor=by, action=Action.HOUSEHOLD_ADVISOR, obj=household,
                     before={"advisors": before}, after={"advisors": after})
    return household


def advisors_grant_bulk(pairs) -> int:
    """Grant advisors their households in bulk, ``(household id, advisor user id)`` pairs (a seeded
    or imported book of thousands of households; the caller's transaction and audit row). Pairs
    already granted are skipped. Returns how many grants were added."""
    perms = list(Permission.objects.filter(content_type__app_label="rebalancing",
                                           codename__in=[p.split(".")[1] for p in _ADVISOR_PERMS]))
    pairs = {(hh, user) for hh, user in pairs if user is not None}
    have = set(HouseholdUserObjectPermission.objects.filter(content_object_id__in={hh for hh, _ in pairs})
               .values_list("content_object_id", "user_id", "permission_id"))
    missing = [HouseholdUserObjectPermission(content_object_id=hh, user_id=user, permission=perm)
               for hh, user in sorted(pairs) for perm in perms if (hh, user, perm.pk) not in have]
    HouseholdUserObjectPermission.objects.bulk_create(missing)
    return len(missing)


def advisor_assign(*, household: Household, advisor, by) -> Household:
    """Give ``household`` to ``advisor`` alone (or to nobody with None)."""
    return household_advisors_set(household=household, advisors=[advisor] if advisor is not None else [], by=by)


# The firm's people: tenants.people's rules with the firm's roles, managed by those who may manage users.
FIRM_PEOPLE = people.Staff(
    FirmRole, FirmRole.FIRM_ADMIN, "the firm", lambda by: require(by, Capability.MANAGE_USERS),
    not_self_granted=frozenset(role for role, capabilities in ROLE_CAPABILITIES.items()
                               if capabilities & {Capability.APPROVE, Capability.APPROVE_COMPLIANCE, Capability.RELEASE}),
)
set_password_path = people.set_password_path


@transaction.atomic
def role_grant(*, user, role: FirmRole, by) -> None:
    people.role_change(FIRM_PEOPLE, user, role, by=by, grant=True)


@transaction.atomic
def role_revoke(*, user, role: FirmRole, by) -> None:
    if by is not None and by.pk == user.pk and role == FirmRole.FIRM_ADMIN:
        remaining = get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN).exclude(pk=user.pk)
        if not remaining.exists():
            raise ValidationFailed("The firm's last admin cannot remove their own admin role.")
    people.role_change(FIRM_PEOPLE, user, role, by=by, grant=False)


def user_invite(*, email: str, first_name: str, last_name: str, roles: list[FirmRole], by, site_url: str):
    """Create a firm user with ``roles`` and no password, and e-mail them (after commit) a link on
    ``site_url`` (the firm's address) to choose one. Their e-mail address is their user name."""
    return people.invite(FIRM_PEOPLE, email=email, first_name=first_name, last_name=last_name, roles=roles, by=by,
                         site_url=site_url)


def user_roles_set(*, user, roles: list[FirmRole], by) -> None:
    """Give ``user`` exactly ``roles`` (one audit row per role given or taken)."""
    people.roles_set(FIRM_PEOPLE, user=user, roles=roles, by=by)


def user_deactivate(*, user, by) -> None:
    """Stop ``user`` signing in, end their sessions and revoke their API keys (their history stays;
    reactivated, they sign in afresh and issue new keys). Their households keep them as advisor until
    given to someone else."""
    people.deactivate(FIRM_PEOPLE, user=user, by=by)


def user_reactivate(*, user, by) -> None:
    people.reactivate(FIRM_PEOPLE, user=user, by=by)
