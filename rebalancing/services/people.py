"""Who holds which role, and which advisor looks after which household."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from guardian.shortcuts import assign_perm, remove_perm

from rebalancing.access import ADVISOR_PERMISSION, require
from rebalancing.models import Household, HouseholdUserObjectPermission
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed, fields_refused
from tenants.permissions import Capability
from tenants.roles import FirmRole

__all__ = [
    "advisor_assign", "advisors_grant_bulk", "household_advisors_set", "role_grant", "role_revoke",
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


def _role_change(user, role: FirmRole, *, by, grant: bool) -> None:
    if by is not None:
        require(by, Capability.MANAGE_USERS)
    before = sorted(user.groups.values_list("name", flat=True))
    group, _ = Group.objects.get_or_create(name=str(role))
    (user.groups.add if grant else user.groups.remove)(group)
    after = sorted(user.groups.values_list("name", flat=True))
    # Only firm admins use the admin site (their group carries its model permissions).
    staff = user.is_superuser or FirmRole.FIRM_ADMIN in after
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
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


def _last_admin_guard(user, *, doing: str) -> None:
    others = get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN, is_active=True).exclude(pk=user.pk)
    if user.groups.filter(name=FirmRole.FIRM_ADMIN).exists() and not others.exists():
        raise ValidationFailed(f"{user.get_username()} is the firm's last active admin and cannot be {doing}; "
                               "make someone else a firm admin first.", detail={"field": "user"})


def set_password_path(user, *, urlconf: str | None = None) -> str:
    """The one-time path where an invited (or reset) user chooses a password; it stops working
    once the password is set (Django's token covers the password hash). ``urlconf``: the firm
    host's, when the link is made on the provider's host (a firm just onboarded)."""
    return reverse("set_password", urlconf=urlconf, kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                           "token": default_token_generator.make_token(user)})


@transaction.atomic
def user_invite(*, email: str, first_name: str, last_name: str, roles: list[FirmRole], by, site_url: str):
    """Create a firm user with ``roles`` and no password, and e-mail them (after commit) a link on
    ``site_url`` (the firm's address) to choose one. Their e-mail address is their user name."""
    if by is not None:
        require(by, Capability.MANAGE_USERS)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(f"“{email[:80]}” is not an e-mail address.", detail={"field": "email"}) from None
    roles = [FirmRole(r) for r in roles or ()]
    if not roles:
        raise ValidationFailed("Give the new user at least one role.", detail={"field": "roles"})
    User = get_user_model()
    if User.objects.filter(username=email).exists():
        raise Conflict(f"{email} already has an account here; change their roles instead.", detail={"field": "email"})
    user = User(username=email, email=email, first_name=(first_name or "").strip()[:150],
                last_name=(last_name or "").strip()[:150], is_staff=FirmRole.FIRM_ADMIN in roles)
    user.set_unusable_password()
    try:
        user.full_clean()
    except ValidationError as exc:  # an address longer than its column
        raise fields_refused(exc, "The user") from None
    user.save()
    user.groups.set([Group.objects.get_or_create(name=str(role))[0] for role in roles])
    audit_record(actor=by, action=Action.USER_INVITE, obj=user, object_type="user",
                 after={"user": email, "roles": sorted(str(r) for r in roles)})
    link = site_url.rstrip("/") + set_password_path(user)
    inviter = (by.get_full_name() or by.get_username()) if by is not None else "Your firm"
    transaction.on_commit(lambda: send_mail(
        subject="You are invited to the rebalancing service",
        message=(f"{inviter} has given you an account ({email}) with the role(s) "
                 f"{', '.join(r.label for r in roles)}.\n\nChoose your password here (the link works once):\n{link}\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email],
    ))
    return user


@transaction.atomic
def user_roles_set(*, user, roles: list[FirmRole], by) -> None:
    """Give ``user`` exactly ``roles`` (one audit row per role given or taken)."""
    require(by, Capability.MANAGE_USERS)
    wanted = {FirmRole(r) for r in roles or ()}
    held = {FirmRole(name) for name in user.groups.values_list("name", flat=True) if name in FirmRole.values}
    if FirmRole.FIRM_ADMIN in held - wanted:
        _last_admin_guard(user, doing="removed as admin")
    for role in sorted(wanted - held):
        _role_change(user, role, by=by, grant=True)
    for role in sorted(held - wanted):
        _role_change(user, role, by=by, grant=False)


@transaction.atomic
def user_deactivate(*, user, by) -> None:
    """Stop ``user`` signing in or using their API keys (their history stays). Their households
    keep them as advisor until given to someone else."""
    require(by, Capability.MANAGE_USERS)
    if not user.is_active:
        raise Conflict(f"{user.get_username()} is already deactivated.", code="already_inactive")
    if by is not None and by.pk == user.pk:
        raise ValidationFailed("You cannot deactivate yourself.", detail={"field": "user"})
    _last_admin_guard(user, doing="deactivated")
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit_record(actor=by, action=Action.USER_DEACTIVATE, obj=user, object_type="user",
                 before={"active": True}, after={"active": False})


@transaction.atomic
def user_reactivate(*, user, by) -> None:
    require(by, Capability.MANAGE_USERS)
    if user.is_active:
        raise Conflict(f"{user.get_username()} is active.", code="already_active")
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=by, action=Action.USER_REACTIVATE, obj=user, object_type="user",
                 before={"active": False}, after={"active": True})
