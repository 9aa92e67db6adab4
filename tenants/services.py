"""Writes on the firm registry: onboarding firms and their first users."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.http.request import validate_host
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from config.input_limits import character_problem, unseen_character

from .errors import Conflict, NotFound, ValidationFailed, fields_refused
from .models import Domain, Firm, FirmUsage, firm_slug_validator
from .people import people_active, people_here, set_password_path
from .roles import FirmRole, ProviderRole
from .sites import site_url

__all__ = ["FirmOnboarding", "firm_create", "firm_host_add", "firm_host_primary_set", "firm_host_remove",
           "firm_rename", "firm_status_set", "firm_usage_record", "first_admin", "first_admin_invite",
           "provider_ensure", "role_groups_sync", "user_ensure"]

# Host labels the provider keeps for itself.
RESERVED_SLUGS = frozenset({"public", "www", "api", "admin", "static", "provider", "console"})

# RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*$")


@dataclass(frozen=True)
class FirmOnboarding:
    firm: Firm
    created: bool
    admin_username: str


REASON_MAX = Firm._meta.get_field("status_reason").max_length


def firm_status_set(*, firm: Firm, status: str, reason: str = "", actor=None) -> bool:
    """Suspend a client firm, or make it active again: a provider admin's decision, with its reason.

    Suspended, no run starts in the firm - the nightly scan, a provider's run, its own people's, the
    API's - and no instruction is solved, proposal edited or trade released (``firm_active_check``
    in ``run_start``, ``run_by_person`` and ``proposal_release``), while its people still
    sign in and read what is theirs (their book, ledger and reports, to export). Suspending needs a
    reason: the firm's people read it on every page. Recorded in the provider's audit trail and in
    the firm's. Returns whether anything changed (the same status again changes nothing)."""
    valid = dict(Firm.Status.choices)
    if status not in valid:
        raise ValidationFailed(f"A firm's status is one of {', '.join(valid)}, not {status!r}.",
                               detail={"field": "status"})
    if firm.schema_name == get_public_schema_name():
        raise ValidationFailed("The provider's own schema is no client firm.", detail={"field": "firm"})
    reason = " ".join((reason or "").split())
    if status == Firm.Status.SUSPENDED and not reason:
        raise ValidationFailed(f"Say why {firm.name} is suspended: its people read the reason on every page.",
                               detail={"field": "reason"})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"The reason is {len(reason)} characters; at most {REASON_MAX}.",
                               detail={"field": "reason"})
    from .audit.actions import Action
    from .audit.services import audit_record

    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = Firm.objects.select_for_update().get(pk=firm.pk)
        if firm.status == status:
            return False
        before = {"status": firm.status, "reason": firm.status_reason}
        firm.status, firm.status_reason, firm.status_changed_at = status, reason, timezone.now()
        firm.save(update_fields=["status", "status_reason", "status_changed_at"])
        action = Action.FIRM_SUSPEND if status == Firm.Status.SUSPENDED else Action.FIRM_REACTIVATE
        after = {"status": status, "reason": reason}
        audit_record(actor=actor, action=action, obj=firm, before=before, after=after, comment=reason)
        with schema_context(firm.schema_name):
            audit_record(actor=actor, action=action, obj=firm, before=before, after=after, comment=reason)
    return True


def _validate_host(domain: str) -> str:
    host = domain.strip().lower()
    if len(host) > 253 or not _HOST_RE.match(host):
        raise ValidationFailed(
            f"{domain!r} is not a valid host name.", detail={"field": "domain", "value": domain}
        )
    return host


def _served_host(domain: str, slug: str) -> str:
    """``domain`` as a host name this deployment answers on, or refused naming why."""
    host = _validate_host(domain)
    if not validate_host(host, settings.ALLOWED_HOSTS):
        # A host the deployment does not answer on: the firm, and its admin's one-time link, would be dead.
        raise ValidationFailed(
            f"This deployment does not serve {host!r}: a firm's host is under {settings.BASE_DOMAIN} (e.g. "
            f"{slug}.{settings.BASE_DOMAIN}), or one added to ALLOWED_HOSTS first.",
            detail={"field": "domain", "value": host},
        )
    return host


def _host_free_check(host: str, slug: str) -> None:
    """Refuse a host some firm, or the provider itself, already answers on - saying which."""
    taken = Domain.objects.select_related("tenant").filter(domain=host).first()
    if host == settings.BASE_DOMAIN or (taken is not None and taken.tenant.schema_name == get_public_schema_name()):
        raise Conflict(
            f"{host!r} is the provider's own address (this console); a firm needs a host of its own, e.g. "
            f"{slug}.{settings.BASE_DOMAIN}.", detail={"field": "domain", "value": host},
        )
    if taken is not None:
        raise Conflict(
            f"The host {host!r} already belongs to another firm ({taken.tenant.name}, slug {taken.tenant.slug!r}).",
            detail={"field": "domain", "value": host},
        )


def _audit_both(firm: Firm, **record) -> None:
    """One record in the provider's audit trail and the same in the firm's own (as a suspension)."""
    from .audit.services import audit_record

    with schema_context(get_public_schema_name()):
        audit_record(obj=firm, **record)
    with schema_context(firm.schema_name):
        audit_record(obj=firm, **record)


def firm_create(
    *,
    name: str,
    slug: str,
    admin_email: str,
    domain: str | None = None,
    admin_password: str | None = None,
    admin_first_name: str = "",
    admin_last_name: str = "",
    actor=None,
) -> FirmOnboarding:
    """Onboard a firm: its registry row, its host, its own schema (migrated) and its first admin.

    Idempotent: the same request again changes nothing and reports created=False (the admin's name
    included: people change their own names later). Input that contradicts an existing firm is refused. Everything happens in one transaction, so a refusal or
    a failure half-way (PostgreSQL DDL is transactional) leaves no row, host or schema behind.
    Recorded, with ``actor`` (a provider admin; None: a command), in the provider's audit trail and
    the new firm's.
    """
    name = (name or "").strip()
    slug = (slug or "").strip()
    admin_email = (admin_email or "").strip().lower()
    if not name:
        raise ValidationFailed("A firm needs a name.", detail={"field": "name"})
    try:
        firm_slug_validator(slug)
    except ValidationError as exc:
        raise ValidationFailed(
            f"Invalid slug {slug!r}: {exc.messages[0]}", detail={"field": "slug", "value": slug}
        ) from None
    if slug in RESERVED_SLUGS:
        raise ValidationFailed(f"The slug {slug!r} is reserved; choose another.", detail={"field": "slug"})
    try:
        validate_email(admin_email)
    except ValidationError:
        raise ValidationFailed(
            f"{admin_email!r} is not a valid e-mail address.", detail={"field": "admin_email"}
        ) from None
    # The address is also the admin's login, whose column is shorter than an e-mail's.
    login_max = get_user_model()._meta.get_field("username").max_length
    if len(admin_email) > login_max:
        raise ValidationFailed(
            f"The admin's e-mail address has at most {login_max} characters (it is also the login); "
            f"this one has {len(admin_email)}.", detail={"field": "admin_email"},
        )
    for field, words, value in (("admin_first_name", "first name", admin_first_name),
                                ("admin_last_name", "last name", admin_last_name)):
        column = get_user_model()._meta.get_field(field.removeprefix("admin_")).max_length
        if len((value or "").strip()) > column:
            raise ValidationFailed(f"The admin's {words} has at most {column} characters; this one has "
                                   f"{len(value.strip())}.", detail={"field": field})
        # The rule of every person's name (``people.name_checked``): nothing that cannot be seen.
        if (unseen := unseen_character(value := (value or "").strip())) is not None:
            raise ValidationFailed(f"The admin's {words} {character_problem(value, unseen)}", detail={"field": field})
    host = _served_host(domain or f"{slug}.{settings.BASE_DOMAIN}", slug)

    with schema_context("public"), transaction.atomic():
        existing = Firm.objects.select_for_update().filter(slug=slug).first()
        if existing is not None:
            if existing.name != name or existing.admin_email != admin_email:
                raise Conflict(
                    f"A firm with slug {slug!r} already exists as {existing.name!r} "
                    f"<{existing.admin_email}>; choose another slug.",
                    detail={"field": "slug", "value": slug},
                )
            if not Domain.objects.filter(tenant=existing, domain=host).exists():
                raise Conflict(
                    f"Firm {slug!r} exists but is not served at {host!r}.", detail={"field": "domain"}
                )
            return FirmOnboarding(firm=existing, created=False, admin_username=admin_email)
        # Two firms of one name read alike on the console and in the run menu: the name is refused,
        # whatever its case or the spaces around it, naming the firm that has it.
        same_name = Firm.objects.filter(name__iexact=name).exclude(schema_name=get_public_schema_name()).first()
        if same_name is not None:
            raise Conflict(
                f"A firm named {same_name.name!r} is already onboarded (slug {same_name.slug!r}); give this "
                "firm another name.",
                detail={"field": "name", "value": name},
            )
        _host_free_check(host, slug)
        firm = Firm(name=name, slug=slug, admin_email=admin_email, schema_name=Firm.schema_name_for(slug))
        try:
            firm.full_clean()
        except ValidationError as exc:  # a name longer than its column: said, before any schema is made
            raise fields_refused(exc, "The firm") from None
        firm.save(verbosity=0)  # creates and migrates the schema (auto_create_schema)
        Domain.objects.create(domain=host, tenant=firm, is_primary=True)
        with schema_context(firm.schema_name):
            user_ensure(
                username=admin_email,
                email=admin_email,
                roles=[FirmRole.FIRM_ADMIN],
                password=admin_password,
                is_staff=True,
                first_name=(admin_first_name or "").strip(),
                last_name=(admin_last_name or "").strip(),
            )
        from .audit.actions import Action

        _audit_both(firm, actor=actor, action=Action.FIRM_CREATE,
                    after={"name": firm.name, "slug": slug, "schema": firm.schema_name, "hosts": [host],
                           "first_admin": admin_email})
        # Its first count by a worker, now rather than tonight: the console shows the new firm's
        # people, and that a worker reaches its schema, from the day it is onboarded.
        transaction.on_commit(lambda: usage_count_send(firm.schema_name))
    return FirmOnboarding(firm=firm, created=True, admin_username=admin_email)


def _firm_locked(firm: Firm) -> Firm:
    """The client firm's row, locked for a change (the provider's own row is no client firm)."""
    if firm.schema_name == get_public_schema_name():
        raise ValidationFailed("The provider's own schema is no client firm.", detail={"field": "firm"})
    return Firm.objects.select_for_update().get(pk=firm.pk)


NAME_MAX = Firm._meta.get_field("name").max_length


def firm_rename(*, firm: Firm, name: str, actor) -> bool:
    """Change the name a firm is shown by (console, run menu, its own pages); its slug, schema and
    hosts stay. Refused when empty, too long, or another firm's name (any case). Audited in the
    provider's trail and the firm's. Returns whether anything changed."""
    from .audit.actions import Action

    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("A firm needs a name.", detail={"field": "name"})
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"A firm's name has at most {NAME_MAX} characters; this one has {len(name)}.",
                               detail={"field": "name"})
    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = _firm_locked(firm)
        if firm.name == name:
            return False
        same = Firm.objects.filter(name__iexact=name).exclude(pk=firm.pk) \
            .exclude(schema_name=get_public_schema_name()).first()
        if same is not None:
            raise Conflict(f"A firm named {same.name!r} is already onboarded (slug {same.slug!r}); give this firm "
                           "another name.", detail={"field": "name", "value": name})
        before = {"name": firm.name}
        firm.name = name
        firm.save(update_fields=["name"])
        _audit_both(firm, actor=actor, action=Action.FIRM_RENAME, before=before, after={"name": name})
    return True


def _hosts(firm: Firm) -> list[str]:
    return list(firm.domains.order_by("-is_primary", "domain").values_list("domain", flat=True))


def firm_host_add(*, firm: Firm, domain: str, actor) -> Domain:
    """Let a firm be reached at one more host (its main one stays). The host must be one this
    deployment serves and no one else's: not another firm's, not the provider's own. Audited."""
    from .audit.actions import Action

    host = _served_host(domain or "", firm.slug)
    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = _firm_locked(firm)
        if Domain.objects.filter(domain=host, tenant=firm).exists():
            raise Conflict(f"{firm.name} is already served at {host!r}.", detail={"field": "domain", "value": host})
        _host_free_check(host, firm.slug)
        before = {"hosts": _hosts(firm)}
        added = Domain.objects.create(domain=host, tenant=firm, is_primary=False)
        _audit_both(firm, actor=actor, action=Action.FIRM_HOST_ADD, before=before,
                    after={"hosts": _hosts(firm), "added": host})
    return added


def _firm_host(firm: Firm, domain: str) -> Domain:
    host = (domain or "").strip().lower()
    found = Domain.objects.filter(domain=host, tenant=firm).first()
    if found is None:
        raise NotFound(f"{firm.name} is not served at {host!r}.", detail={"field": "domain", "value": host})
    return found


def firm_host_remove(*, firm: Firm, domain: str, actor) -> None:
    """Stop serving a firm at one of its hosts. Its main host is refused: the firm's links and its
    people's invitations use it (another host is made the main one first). Audited."""
    from .audit.actions import Action

    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = _firm_locked(firm)
        found = _firm_host(firm, domain)
        if found.is_primary:
            raise Conflict(f"{found.domain!r} is {firm.name}'s main host: the links in its e-mails and its people's "
                           "invitations use it. Make another of its hosts the main one first (add one if it has no "
                           "other).", detail={"field": "domain", "value": found.domain})
        before = {"hosts": _hosts(firm)}
        found.delete()
        _audit_both(firm, actor=actor, action=Action.FIRM_HOST_REMOVE, before=before,
                    after={"hosts": _hosts(firm), "removed": found.domain})


def firm_host_primary_set(*, firm: Firm, domain: str, actor) -> bool:
    """Make one of a firm's hosts its main one (what its e-mailed links use). Audited; returns
    whether anything changed."""
    from .audit.actions import Action

    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = _firm_locked(firm)
        found = _firm_host(firm, domain)
        if found.is_primary:
            return False
        before = {"main_host": firm.primary_domain}
        Domain.objects.filter(tenant=firm, is_primary=True).update(is_primary=False)
        found.is_primary = True
        found.save(update_fields=["is_primary"])
        _audit_both(firm, actor=actor, action=Action.FIRM_HOST_PRIMARY, before=before,
                    after={"main_host": found.domain})
    return True


def first_admin(firm: Firm):
    """The firm's first admin (the address it was onboarded with), read in its schema, or None if
    that person's account is gone."""
    with schema_context(firm.schema_name):
        return get_user_model().objects.filter(username=firm.admin_email).first()


def first_admin_email_change(*, firm: Firm, email: str, actor) -> bool:
    """Correct the address a firm was onboarded with for its first admin (a typo leaves them
    without their invitation), while that admin has not chosen a password: the address is their
    login, and once they have signed in with it, it is theirs. Changes the firm's record and the
    admin's login and address; audited in the provider's trail and the firm's. Returns whether
    anything changed (the same address again changes nothing)."""
    from .audit.actions import Action

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(f"“{email[:80]}” is not an e-mail address.", detail={"field": "email"}) from None
    login_max = get_user_model()._meta.get_field("username").max_length
    if len(email) > login_max:
        raise ValidationFailed(f"The admin's e-mail address has at most {login_max} characters (it is also the "
                               f"login); this one has {len(email)}.", detail={"field": "email"})
    with transaction.atomic(), schema_context(get_public_schema_name()):
        firm = _firm_locked(firm)
        old = firm.admin_email
        if email == old:
            return False
        with schema_context(firm.schema_name):
            User = get_user_model()
            admin = User.objects.select_for_update().filter(username=old).first()
            if admin is None:
                raise NotFound(f"{firm.name}'s first admin ({old}) has no account in the firm any more.",
                               detail={"field": "email"})
            if admin.has_usable_password() or admin.last_login is not None:
                raise Conflict(f"{old} has already chosen a password and signs in with that address, so it is "
                               "no longer corrected here; the firm's admins invite whoever else should be one.",
                               code="password_chosen", detail={"field": "email"})
            if User.objects.filter(username=email).exists():
                raise Conflict(f"{email} already has an account in {firm.name}; its firm admins give it the role.",
                               detail={"field": "email", "value": email})
            admin.username = admin.email = email
            admin.save(update_fields=["username", "email"])
        firm.admin_email = email
        firm.save(update_fields=["admin_email"])
        _audit_both(firm, actor=actor, action=Action.FIRM_ADMIN_INVITE, before={"admin": old},
                    after={"admin": email, "address_corrected": True})
    return True


def first_admin_invite(*, firm: Firm, actor, again: bool = False) -> str:
    """E-mail the firm's first admin a one-time link, on the firm's main host, to
    choose a password: at onboarding, or ``again`` while they have not chosen one. Recorded in the
    provider's trail (who, which firm, to whom) and, as an invitation, in the firm's. Returns the
    admin's user name."""
    from .audit.actions import Action
    from .audit.services import audit_record

    with transaction.atomic(), schema_context(firm.schema_name):
        admin = get_user_model().objects.filter(username=firm.admin_email).first()
        if admin is None:
            raise NotFound(f"{firm.name}'s first admin ({firm.admin_email}) has no account in the firm any more.",
                           detail={"field": "admin"})
        name = admin.get_username()
        if again and not admin.is_active:
            raise Conflict(f"{name} is deactivated in {firm.name}; its firm admins reactivate them first.",
                           code="inactive", detail={"field": "admin"})
        if again and admin.has_usable_password():
            raise Conflict(f"{name} has already chosen a password; if they forgot it, “Forgot your password?” on "
                           f"{firm.primary_domain} sends them a link.", code="password_chosen",
                           detail={"field": "admin"})
        host = firm.primary_domain
        link = site_url(host, set_password_path(admin, urlconf=settings.ROOT_URLCONF))
        audit_record(actor=actor, action=Action.USER_INVITE_RESEND if again else Action.USER_INVITE, obj=admin,
                     object_type="user", after={"user": name, "roles": [FirmRole.FIRM_ADMIN.value]})
        with schema_context(get_public_schema_name()):
            audit_record(actor=actor, action=Action.FIRM_ADMIN_INVITE, obj=firm,
                         after={"admin": name, "host": host, "again": again})
        greeting = f"Dear {admin.get_full_name()},\n\n" if admin.get_full_name() else ""
        words = "Here is a new link to choose" if again else "Choose"
        message = (f"{greeting}You are the first firm admin of {firm.name} ({name}).\n\n"
                   f"{words} your password here (the link works once):\n{link}\n")
    # Sent once the records are written (a mail server's refusal then leaves the record of the attempt).
    send_mail(subject=f"{firm.name} is set up on the rebalancing service", message=message,
              from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[admin.email or name])
    return name


def usage_count_send(schema_name: str) -> None:
    """Ask a worker to count the firm's people in its own schema (``tasks.firm_usage_snapshot``;
    tenant-schemas-celery sends the schema the connection is in)."""
    from celery import current_app

    with schema_context(schema_name):
        current_app.send_task("tenants.tasks.firm_usage_snapshot")


@transaction.atomic
def provider_ensure(*, name: str = "Provider", admin_email: str = "ops@provider.example") -> Firm:
    """The public schema's registry row and host, which serve the provider console. Idempotent."""
    host = _validate_host(settings.BASE_DOMAIN)
    with schema_context("public"):
        provider, _ = Firm.objects.get_or_create(
            schema_name="public", defaults={"name": name, "slug": "public", "admin_email": admin_email}
        )
        Domain.objects.get_or_create(domain=host, defaults={"tenant": provider, "is_primary": True})
    return provider


def user_ensure(
    *,
    username: str,
    email: str,
    roles: list[FirmRole | ProviderRole],
    password: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
    first_name: str = "",
    last_name: str = "",
):
    """Create (or bring up to date) a user in the schema that is active, with the given roles.

    A user belongs to the schema it is created in: call inside schema_context(firm) for firm staff,
    in the public schema for provider staff.
    """
    User = get_user_model()
    # Checked before anything is written: get_or_create would insert a value too long for its column.
    user = User.objects.filter(username=username).first() or User(username=username)
    user.email = email
    user.first_name, user.last_name = first_name, last_name
    user.is_staff = is_staff or is_superuser
    user.is_superuser = is_superuser
    if password:
        user.set_password(password)
    elif not user.has_usable_password() or not user.password:
        user.set_unusable_password()
    try:
        user.full_clean()
    except ValidationError as exc:  # an address or a name longer than its column
        raise fields_refused(exc, "The user") from None
    user.save()
    groups = [Group.objects.get_or_create(name=str(role))[0] for role in roles]
    user.groups.set(groups)
    return user


def role_groups_sync() -> int:
    """Give each firm role's group exactly the admin-site model permissions of
    ``ROLE_MODEL_PERMISSIONS`` (in the current firm schema). Idempotent; runs after every migrate
    of a firm's schema (tenants.apps), so new models' permissions follow. Returns how many groups."""
    from django.contrib.auth.models import Permission

    from .permissions import ROLE_MODEL_PERMISSIONS

    for role in FirmRole:
        names = ROLE_MODEL_PERMISSIONS.get(role, ())
        wanted = Q(pk__in=[])
        for name in names:
            app, codename = name.split(".")
            wanted |= Q(content_type__app_label=app, codename=codename)
        group, _ = Group.objects.get_or_create(name=str(role))
        group.permissions.set(Permission.objects.filter(wanted) if names else [])
    return len(FirmRole)


def firm_usage_record(*, firm: Firm) -> FirmUsage:
    """Count the firm's users and store the snapshot in the registry.

    Runs in the firm's own schema (a Celery task sent for the firm) and records the schema it
    actually ran in, which is how the provider sees that workers reach every firm.
    """
    if connection.schema_name != firm.schema_name:
        raise ValidationFailed(
            f"Usage of {firm.slug!r} must be counted in schema {firm.schema_name!r}, "
            f"not {connection.schema_name!r}."
        )
    # People, as the firm's People page lists them (not django-guardian's AnonymousUser row); active
    # as the firm's page counts them (``people_active``: a password chosen, not deactivated).
    return FirmUsage.objects.create(
        firm=firm, schema_name=connection.schema_name, users=people_here().count(), active_users=people_active().count()
    )
