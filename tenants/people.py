"""Inviting people, setting their roles, deactivating them: one set of rules for a firm's people (in
its schema, ``FirmRole``) and the provider's staff (the public schema, ``ProviderRole``).

A role is a group of the same name in the schema where the user lives. The role that manages people
(``Staff.admin``) also uses that schema's admin site (``is_staff``); the last active holder of it can
neither lose it nor be deactivated, so a firm or the provider is never left without one."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from guardian.conf import settings as guardian_settings

from config.input_limits import character_problem, unseen_character

from .api_keys.services import api_keys_revoke_all
from .audit.actions import Action
from .audit.services import Visitor, audit_record
from .errors import Conflict, PermissionDenied, ValidationFailed, fields_refused
from .roles import ProviderRole

__all__ = ["PROVIDER_STAFF", "Staff", "deactivate", "invitation_resend", "invite", "name_checked", "name_set", "password_chosen",
           "password_link_recipients", "password_link_requested", "password_reset_send", "people_active", "people_here", "reactivate",
           "role_change", "roles_set", "set_password_path"]


@dataclass(frozen=True)
class Staff:
    """Whose people these are: their roles, the role that manages them, and who may (``check``
    raises ``PermissionDenied`` for someone who may not)."""

    roles: type[models.TextChoices]
    admin: models.TextChoices
    owner: str  # "the firm", "the provider": in messages
    check: Callable[[object], None]
    # Roles nobody gives themselves (those that approve or release trades): another admin gives them,
    # or one admin could make themselves the approver of what they trade.
    not_self_granted: frozenset = frozenset()


def _provider_admin_check(by) -> None:
    if by is None or not (by.is_superuser or by.groups.filter(name=ProviderRole.PROVIDER_ADMIN).exists()):
        raise PermissionDenied("Only a provider admin manages the provider's staff.",
                               detail={"role": ProviderRole.PROVIDER_ADMIN.value})


PROVIDER_STAFF = Staff(ProviderRole, ProviderRole.PROVIDER_ADMIN, "the provider", _provider_admin_check)


def people_here():
    """The users of the current schema who are people: django-guardian keeps an "AnonymousUser" row
    in every schema, whom nobody signs in as and no page lists or changes."""
    return get_user_model().objects.exclude(username=guardian_settings.ANONYMOUS_USER_NAME)


def people_active():
    """The people who can sign in: not deactivated, and a password chosen (someone invited who has
    not chosen one yet is "invited"). The one meaning of an active person: the console's nightly
    count (``firm_usage_record``) and the firm's page count by it."""
    return people_here().filter(is_active=True).exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)


def set_password_path(user, *, urlconf: str | None = None) -> str:
    """The one-time path where an invited (or reset) user chooses a password; it stops working
    once the password is set (Django's token covers the password hash). ``urlconf``: the firm
    host's, when the link is made on the provider's host (a firm just onboarded)."""
    return reverse("set_password", urlconf=urlconf, kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                            "token": default_token_generator.make_token(user)})


def _held(staff: Staff, user) -> set:
    return {staff.roles(name) for name in user.groups.values_list("name", flat=True) if name in staff.roles.values}


def role_change(staff: Staff, user, role, *, by, grant: bool) -> None:
    """Give ``user`` one role, or take it (audited when it changes anything)."""
    if by is not None:
        staff.check(by)
    if grant and by is not None and by.pk == user.pk and role in staff.not_self_granted \
            and not user.groups.filter(name=str(role)).exists():
        raise PermissionDenied(f"You cannot give yourself the {staff.roles(role).label.lower()} role: it approves or "
                               f"releases trades, so another {staff.admin.label.lower()} of {staff.owner} gives it "
                               "(separation of duties).", detail={"field": "roles", "role": str(role)})
    if not grant and role == staff.admin:
        last_admin_guard(staff, user, doing="removed as admin")
    before = sorted(user.groups.values_list("name", flat=True))
    group, _ = Group.objects.get_or_create(name=str(role))
    (user.groups.add if grant else user.groups.remove)(group)
    after = sorted(user.groups.values_list("name", flat=True))
    # Only the admin role uses the admin site (its group carries the model permissions).
    is_staff = user.is_superuser or staff.admin in after
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    if before != after:
        audit_record(actor=by, action=Action.USER_ROLE_GRANT if grant else Action.USER_ROLE_REVOKE, obj=user,
                     object_type="user", before={"roles": before}, after={"roles": after})


def last_admin_guard(staff: Staff, user, *, doing: str) -> None:
    others = get_user_model().objects.filter(groups__name=staff.admin, is_active=True).exclude(pk=user.pk)
    if user.groups.filter(name=staff.admin).exists() and not others.exists():
        raise ValidationFailed(f"{user.get_username()} is {staff.owner}'s last active admin and cannot be {doing}; "
                               f"make someone else a {staff.admin.label.lower()} first.", detail={"field": "user"})


def name_checked(field: str, value: str | None, *, whose: str) -> str:
    """``value`` without the spaces around it, as a person's ``field`` ("first_name", "last_name") is
    stored; refused, the field named, when longer than its column or holding a character that cannot
    be seen. ``whose``: the person's user name (their e-mail address), in the refusal."""
    value = (value or "").strip()
    words = field.replace("_", " ")
    limit = get_user_model()._meta.get_field(field).max_length
    if len(value) > limit:
        raise ValidationFailed(f"The {words} of {whose} is {len(value)} characters long; at most {limit} fit.",
                               detail={"field": field})
    if (unseen := unseen_character(value)) is not None:
        raise ValidationFailed(f"The {words} of {whose} {character_problem(value, unseen)}", detail={"field": field})
    return value


@transaction.atomic
def invite(staff: Staff, *, email: str, first_name: str, last_name: str, roles, by, site_url: str):
    """Create a user with ``roles`` and no password, and e-mail them (after commit) a link on
    ``site_url`` (the address they sign in at) to choose one. Their e-mail address is their user name."""
    if by is not None:
        staff.check(by)
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(f"“{email[:80]}” is not an e-mail address.", detail={"field": "email"}) from None
    try:
        roles = [staff.roles(r) for r in roles or ()]
    except ValueError:
        raise ValidationFailed(f"A role is one of {', '.join(staff.roles.values)}.", detail={"field": "roles"}) from None
    if not roles:
        raise ValidationFailed("Give the new user at least one role.", detail={"field": "roles"})
    first_name, last_name = (name_checked(field, value, whose=email)
                             for field, value in (("first_name", first_name), ("last_name", last_name)))
    User = get_user_model()
    if User.objects.filter(username=email).exists():
        raise Conflict(f"{email} already has an account here; change their roles instead.", detail={"field": "email"})
    user = User(username=email, email=email, first_name=first_name, last_name=last_name,
                is_staff=staff.admin in roles)
    user.set_unusable_password()
    try:
        user.full_clean()
    except ValidationError as exc:  # an address longer than its column
        raise fields_refused(exc, "The user") from None
    user.save()
    user.groups.set([Group.objects.get_or_create(name=str(role))[0] for role in roles])
    audit_record(actor=by, action=Action.USER_INVITE, obj=user, object_type="user",
                 after={"user": email, "roles": sorted(str(r) for r in roles)})
    _invitation_mail(staff, user, roles, by=by, site_url=site_url)
    return user


def _sender(staff: Staff, by) -> str:
    return (by.get_full_name() or by.get_username()) if by is not None else staff.owner.capitalize()


def _invitation_mail(staff: Staff, user, roles, *, by, site_url: str) -> None:
    """The invitation, after commit: the same words the first time and when it is sent again."""
    link = site_url.rstrip("/") + set_password_path(user)
    email, inviter = user.email, _sender(staff, by)
    transaction.on_commit(lambda: send_mail(
        subject="You are invited to the rebalancing service",
        message=(f"{inviter} has given you an account ({email}) with the role(s) "
                 f"{', '.join(r.label for r in roles)}.\n\nChoose your password here (the link works once):\n{link}\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email],
    ))


@transaction.atomic
def invitation_resend(staff: Staff, *, user, by, site_url: str) -> None:
    """E-mail ``user``, who has not chosen a password yet, a new one-time link to choose it (the
    invitation's words). Earlier links keep working until one of them is used or they expire
    (``PASSWORD_RESET_TIMEOUT``), as Django's tokens do; the first one used ends them all."""
    staff.check(by)
    name = user.get_username()
    if not user.is_active:
        raise Conflict(f"{name} is deactivated; reactivate them before sending a new invitation.",
                       code="inactive", detail={"field": "user"})
    if user.has_usable_password():
        raise Conflict(f"{name} has already chosen a password; send them a password-reset link instead.",
                       code="password_chosen", detail={"field": "user"})
    if not user.email:
        raise ValidationFailed(f"{name} has no e-mail address to send an invitation to.", detail={"field": "user"})
    audit_record(actor=by, action=Action.USER_INVITE_RESEND, obj=user, object_type="user", after={"user": name})
    _invitation_mail(staff, user, sorted(_held(staff, user)), by=by, site_url=site_url)


@transaction.atomic
def password_reset_send(staff: Staff, *, user, by, site_url: str) -> None:
    """E-mail ``user`` (active, with a password they forgot) a one-time link to choose a new one.
    Their password keeps working until the link is used. Django's token covers the password hash and
    the last sign-in, so the link ends once used, or once they sign in with the password they found."""
    staff.check(by)
    name = user.get_username()
    if not user.is_active:
        raise Conflict(f"{name} is deactivated: a password-reset link is only for people who may sign in; "
                       "reactivate them first.", code="inactive", detail={"field": "user"})
    if not user.has_usable_password():
        raise Conflict(f"{name} has not chosen a password yet; send them a new invitation instead.",
                       code="invited", detail={"field": "user"})
    if not user.email:
        raise ValidationFailed(f"{name} has no e-mail address to send a link to.", detail={"field": "user"})
    audit_record(actor=by, action=Action.USER_PASSWORD_RESET, obj=user, object_type="user", after={"user": name})
    link = site_url.rstrip("/") + set_password_path(user)
    email, sender = user.email, _sender(staff, by)
    transaction.on_commit(lambda: send_mail(
        subject="A link to choose a new password for the rebalancing service",
        message=(f"{sender} has sent you a link to choose a new password for your account ({email}) at "
                 f"{site_url.rstrip('/')}.\n\nChoose it here (the link works once):\n{link}\n\n"
                 "Your current password keeps working until you use the link; if you remember it, ignore this "
                 "e-mail.\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[email],
    ))


@transaction.atomic
def name_set(staff: Staff, *, user, first_name: str, last_name: str, by) -> None:
    """Set ``user``'s first and last name (audited with both before and after; nothing when unchanged)."""
    staff.check(by)
    wanted = {field: name_checked(field, value, whose=user.get_username())
              for field, value in (("first_name", first_name), ("last_name", last_name))}
    before = {field: getattr(user, field) for field in wanted}
    if before == wanted:
        return
    for field, value in wanted.items():
        setattr(user, field, value)
    user.save(update_fields=list(wanted))
    audit_record(actor=by, action=Action.USER_NAME, obj=user, object_type="user", before=before, after=wanted)


@transaction.atomic
@transaction.atomic
def roles_set(staff: Staff, *, user, roles, by) -> None:
    """Give ``user`` exactly ``roles`` (one audit row per role given or taken)."""
    staff.check(by)
    try:
        wanted = {staff.roles(r) for r in roles or ()}
    except ValueError:
        raise ValidationFailed(f"A role is one of {', '.join(staff.roles.values)}.", detail={"field": "roles"}) from None
    if not wanted:  # as an invitation needs one: no role is no page, said by deactivating
        raise ValidationFailed(f"Choose at least one role for {user.get_username()}; to stop them signing in, "
                               "deactivate them instead.", detail={"field": "roles"})
    held = _held(staff, user)
    if staff.admin in held - wanted:  # said first: why the whole change is refused, whatever else it grants
        last_admin_guard(staff, user, doing="removed as admin")
    for role in sorted(wanted - held):
        role_change(staff, user, role, by=by, grant=True)
    for role in sorted(held - wanted):
        role_change(staff, user, role, by=by, grant=False)


@transaction.atomic
def deactivate(staff: Staff, *, user, by) -> None:
    """Stop ``user`` signing in or using their API keys (their history stays). Their keys are revoked,
    not just refused while they are inactive: reactivating them must not bring back a key that may have
    leaked meanwhile (a new one is issued, signed in)."""
    staff.check(by)
    if not user.is_active:
        raise Conflict(f"{user.get_username()} is already deactivated.", code="already_inactive")
    if by is not None and by.pk == user.pk:
        raise ValidationFailed("You cannot deactivate yourself.", detail={"field": "user"})
    last_admin_guard(staff, user, doing="deactivated")
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = _sessions_end(user)
    revoked = api_keys_revoke_all(user=user, by=by, why=f"{user.get_username()} was deactivated")
    audit_record(actor=by, action=Action.USER_DEACTIVATE, obj=user, object_type="user",
                 before={"active": True},
                 after={"active": False, "sessions_ended": ended, **({"api_keys_revoked": revoked} if revoked else {})})


def _sessions_end(user) -> int:
    """End ``user``'s sessions in this schema (the firm's, or the provider's), returning how many.
    While inactive a session signs no one in anyway; ended, a session taken before cannot come back
    to life when the person is reactivated. Sessions store the user only in their signed data, so
    the live ones are read (a firm has a few hundred at most)."""
    live = Session.objects.filter(expire_date__gt=timezone.now())
    theirs = [s.pk for s in live.iterator() if s.get_decoded().get(SESSION_KEY) == str(user.pk)]
    Session.objects.filter(pk__in=theirs).delete()
    return len(theirs)


@transaction.atomic
def reactivate(staff: Staff, *, user, by) -> None:
    staff.check(by)
    if user.is_active:
        raise Conflict(f"{user.get_username()} is active.", code="already_active")
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(actor=by, action=Action.USER_REACTIVATE, obj=user, object_type="user",
                 before={"active": False}, after={"active": True})


# --- "Forgot your password?" (Django's PasswordResetView, frontend.views.auth) -------------------

def _same_address(a: str, b: str) -> bool:
    # As Django's PasswordResetForm: the database's case-insensitive match, then Unicode's, so that
    # an address that only folds to a user's (a dotless "ı", "ß"...) is not sent their link.
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()


def password_link_recipients(email: str) -> list:
    """Who the "Forgot your password?" form e-mails a link to choose a password: the active people
    of this schema (the host's firm, or the provider's staff) with that address.

    Unlike Django's default, that includes someone invited who has not chosen a password yet: the
    link proves control of the mailbox the invitation went to, exactly as the invitation did, so it
    is their invitation sent again (an invitation that expired unused is the commonest "I cannot
    sign in"). Deactivated people get nothing: their admin decides whether they come back."""
    email = (email or "").strip()
    if not email:
        return []
    return [u for u in people_here().filter(email__iexact=email, is_active=True) if _same_address(email, u.email)]


@transaction.atomic
def password_link_requested(user, *, typed: str, ip: str = "") -> None:
    """The audit row of a link sent from the "Forgot your password?" form: asked for by whoever typed
    ``typed`` (not signed in, from ``ip``), sent to ``user``."""
    audit_record(actor=Visitor(typed[:200]), action=Action.AUTH_PASSWORD_LINK_REQUEST, obj=user,
                 object_type="user", after={"user": user.get_username(), "invited": not user.has_usable_password(),
                                            "ip": ip})


def password_chosen(user, *, first: bool) -> None:
    """The audit row of a password chosen through an e-mailed link (``first``: an invited user's
    first). The caller's transaction holds the new password."""
    audit_record(actor=user, action=Action.AUTH_PASSWORD_SET, obj=user, object_type="user",
                 after={"first_password": first})
