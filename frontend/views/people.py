"""People and their roles (firm admins): invite someone, change their roles, deactivate them; and
the firm's approval policy. Every change goes through rebalancing.services (people, policy)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone

from frontend.query import decimal_param, id_param, int_param
from rebalancing.access import advised_households_count
from rebalancing.models import ApprovalPolicy
from rebalancing.services.people import FIRM_PEOPLE
from rebalancing.services.policy import MIN_PRICE_AGE_DAYS, approval_policy_set, proposals_priced_before
from rebalancing.typed_numbers import DOLLARS, PERCENT
from tenants import people as people_rules
from tenants.errors import DomainError, ValidationFailed
from tenants.people import Staff
from tenants.permissions import Capability, user_can
from tenants.roles import FirmRole

from .common import firm_page, paginate, visible_or_404

ROLE_HELP = {
    FirmRole.FIRM_ADMIN: "templates, models, people, policy, restricted list, imports, runs, audit log",
    FirmRole.PORTFOLIO_MANAGER: "imports, runs, parameters, approves and releases",
    FirmRole.ADVISOR: "their own households: parameters and approvals",
    FirmRole.COMPLIANCE: "approves above the policy's thresholds, keeps the restricted list, reads the audit log",
}


def _roles(post, role_enum=FirmRole, prefix: str = "role") -> list[str]:
    chosen = post.getlist(prefix)
    unknown = [r for r in chosen if r not in role_enum.values]
    if unknown:
        raise ValidationFailed(f"Unknown role {unknown[0][:40]!r}.", detail={"field": "roles"})
    return chosen


def people_post(request, staff: Staff, page: str):
    """Invite, set roles or a name, deactivate or reactivate, send a new invitation or a password-reset
    link - the firm's people page and the provider's staff page alike (``staff``: whose people): a
    redirect to ``page`` when done, else (400, the refusal)."""
    post, by = request.POST, request.user
    action = post.get("action")
    try:
        if action == "invite":
            invited = people_rules.invite(staff, email=post.get("email", ""), first_name=post.get("first_name", ""),
                                    last_name=post.get("last_name", ""), roles=_roles(post, staff.roles), by=by,
                                    site_url=request.build_absolute_uri("/"))
            messages.success(request, f"Invited {invited.email}: an e-mail with a link to choose a password "
                                      "is on its way.")
            return redirect(page)
        person = visible_or_404(people_rules.people_here(), pk=id_param(post, "user"))
        if action == "roles":
            people_rules.roles_set(staff, user=person, roles=_roles(post, staff.roles), by=by)
            messages.success(request, f"Roles of {person.username} saved.")
        elif action == "deactivate":
            people_rules.deactivate(staff, user=person, by=by)
            messages.success(request, f"{person.username} can no longer sign in or use API keys.")
        elif action == "reactivate":
            people_rules.reactivate(staff, user=person, by=by)
            messages.success(request, f"{person.username} may sign in again.")
        elif action == "resend":
            people_rules.invitation_resend(staff, user=person, by=by, site_url=request.build_absolute_uri("/"))
            messages.success(request, f"Sent a new invitation link to {person.email}.")
        elif action == "reset":
            people_rules.password_reset_send(staff, user=person, by=by, site_url=request.build_absolute_uri("/"))
            messages.success(request, f"Sent a password-reset link to {person.email}; their current password "
                                      "works until they use it.")
        elif action == "name":
            people_rules.name_set(staff, user=person, first_name=post.get("first_name", ""),
                                  last_name=post.get("last_name", ""), by=by)
            messages.success(request, f"Name of {person.username} saved.")
        else:
            raise ValidationFailed("Choose what to do.")
        return redirect(page)
    except DomainError as exc:
        # A refused row action comes back on that person's row, the reason beside it (``refused_form``;
        # the form posts to the page it is on, so the row is there): said at the top as well, the same
        # sentence showed twice. The invite form and an unknown action have no such place.
        if action not in ROW_ACTIONS + LINK_ACTIONS:
            messages.error(request, exc.message)
        return 400, exc.message


ROW_ACTIONS = ("roles", "deactivate", "reactivate")  # refused beside the roles (person_roles_cell.html)
LINK_ACTIONS = ("resend", "reset", "name")  # refused beside the status (person_status_cell.html)


def refused_form(request, status: int) -> dict:
    """A refused form comes back as typed: the invite form, or the one person's row whose roles,
    name or link was refused (before, that row showed the stored roles and the invite form took the
    ticks instead)."""
    action = request.POST.get("action") if status != 200 else None
    return {"posted": request.POST if action == "invite" else {},
            "posted_roles": request.POST.getlist("role") if action == "invite" else [],
            "refused_user": id_param(request.POST, "user") if action in ROW_ACTIONS + LINK_ACTIONS else None,
            "refused_cell": "status" if action in LINK_ACTIONS else "roles",
            "refused_roles": request.POST.getlist("role") if action == "roles" else None,
            "refused_name": ({"first_name": request.POST.get("first_name", ""),
                              "last_name": request.POST.get("last_name", "")} if action == "name" else None)}


def person_rows(request, people):
    """A page of ``people`` (a users queryset), each with their role names, whether they have yet
    to choose a password and how many of their API keys work (``live_key_count``)."""
    # Keys that work now (not revoked, not expired, as ApiKeyAuthentication checks): the deactivate
    # button's question says how many stop.
    now = timezone.now()
    working = Q(api_keys__revoked_at__isnull=True) & (Q(api_keys__expires_at__isnull=True)
                                                      | Q(api_keys__expires_at__gt=now))
    people = people.annotate(live_key_count=Count("api_keys", filter=working, distinct=True))
    page = paginate(request, people.prefetch_related("groups"), per_page=50)
    return page, [{"user": u, "roles": {g.name for g in u.groups.all()}, "invited": not u.has_usable_password()}
                  for u in page]


@firm_page(Capability.MANAGE_USERS)
def people_page(request):
    done = people_post(request, FIRM_PEOPLE, "people") if request.method == "POST" else (200, "")
    if not isinstance(done, tuple):
        return done
    status, refusal = done
    q = request.GET.get("q", "").strip()
    people = (people_rules.people_here().annotate(household_count=advised_households_count())
              .order_by("-is_active", "first_name", "username"))
    if q:
        people = people.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q))
    page, rows = person_rows(request, people)
    return render(request, "frontend/people.html", {
        "page": page, "rows": rows, "q": q, "roles": [(r, r.label, ROLE_HELP[r]) for r in FirmRole],
        "refusal": refusal, **refused_form(request, status),
    }, status=status)


# --- The approval policy ---------------------------------------------------------------------------

def _policy_values(post) -> dict:
    """The form's values as the policy stores them: percentages typed as people think of them
    (5 means 5%), amounts with or without $ and separators, yes/no as checkboxes."""
    def field(name: str, parse):  # a value that cannot be read is refused naming its field
        try:
            return parse(post, name)
        except BadRequest as exc:
            raise ValidationFailed(str(exc), detail={"field": name}) from None

    money = {f: field(f, lambda p, n, what=what: decimal_param(p, n, what=what, unit=DOLLARS)) for f, what in (
        ("auto_max_estimated_tax", "automatic approval's tax limit"),
        ("compliance_min_estimated_tax", "tax at which compliance approves"))}
    percent = {f: field(f, lambda p, n, what=what: decimal_param(p, n, what=what, unit=PERCENT)) for f, what in (
        ("auto_max_turnover", "automatic approval's turnover limit"),
        ("compliance_min_turnover", "turnover at which compliance approves"))}
    counts = {"auto_max_trades": field("auto_max_trades", lambda p, n: int_param(
                  p, n, minimum=0, maximum=10_000, what="largest number of trades approved automatically")),
              "max_price_age_days": field("max_price_age_days", lambda p, n: int_param(
                  p, n, minimum=MIN_PRICE_AGE_DAYS, maximum=365, what="age of prices (days)"))}
    missing = [f for f, v in {**money, **percent, **counts}.items() if v is None]
    if missing:
        raise ValidationFailed(f"Fill in every limit ({missing[0].replace('_', ' ')} is empty).",
                               detail={"field": missing[0]})
    return {**money, **{f: float(v) / 100 for f, v in percent.items()}, **counts,
            "auto_approve": post.get("auto_approve") == "on",
            "compliance_on_restricted": post.get("compliance_on_restricted") == "on"}


# Compliance reads the policy it enforces (which proposals need its approval); firm admins change it.
@firm_page((Capability.MANAGE_USERS, Capability.APPROVE_COMPLIANCE), post=Capability.MANAGE_USERS)
def approval_policy_page(request):
    status, errors = 200, {}
    if request.method == "POST":
        try:
            saved = approval_policy_set(by=request.user, **_policy_values(request.POST))
        except DomainError as exc:
            messages.error(request, exc.message)
            status, errors = 400, _policy_errors(exc)
        else:
            messages.success(request, "Approval policy saved. Its approval limits apply to proposals made from now on; "
                                      "the age of prices applies at every release and at the nightly expiry, to the "
                                      "proposals open now too.")
            expiring = proposals_priced_before(saved.max_price_age_days)
            if expiring:
                messages.warning(request, f"{expiring} open proposal{'s are' if expiring != 1 else ' is'} priced more than "
                                          f"{saved.max_price_age_days} day{'s' if saved.max_price_age_days != 1 else ''} "
                                          "ago: each expires at its release or tonight, whatever approvals it has.")
            return redirect("approval_policy")
    policy = ApprovalPolicy.current()
    shown = {
        # To the cent where it has cents: a form saved again unchanged must not round the limit.
        "auto_max_estimated_tax": f"{policy.auto_max_estimated_tax:,.2f}".removesuffix(".00"),
        "compliance_min_estimated_tax": f"{policy.compliance_min_estimated_tax:,.2f}".removesuffix(".00"),
        "auto_max_turnover": _percent_text(policy.auto_max_turnover),
        "compliance_min_turnover": _percent_text(policy.compliance_min_turnover),
        "auto_max_trades": policy.auto_max_trades, "max_price_age_days": policy.max_price_age_days,
        "auto_approve": policy.auto_approve, "compliance_on_restricted": policy.compliance_on_restricted,
    }
    if status != 200:  # show what was typed, to correct it
        shown.update({k: v for k, v in request.POST.items() if k in shown})
        shown["auto_approve"] = request.POST.get("auto_approve") == "on"
        shown["compliance_on_restricted"] = request.POST.get("compliance_on_restricted") == "on"
    return render(request, "frontend/approval_policy.html", {
        "policy": policy, "shown": shown, "errors": errors,
        "can_edit": user_can(request.user, Capability.MANAGE_USERS)}, status=status)


# The service's refusals of settings read whole name no field: each is marked beside the fields its
# words name (rebalancing.services.policy says them).
_POLICY_FIELD_WORDS = {
    "auto_max_estimated_tax": ("automatic approval's tax limit",),
    "compliance_min_estimated_tax": ("tax at which compliance",),
    "auto_max_turnover": ("automatic approval's turnover limit", "turnover is at most 100%"),
    "compliance_min_turnover": ("turnover at which compliance", "turnover is at most 100%"),
    "max_price_age_days": ("prices may be at least",),
}


def _policy_errors(exc: DomainError) -> dict[str, str]:
    """The refusal's message beside each field it concerns: {field: words}."""
    detail = exc.detail or {}
    if detail.get("field"):
        return {detail["field"]: exc.message}
    errors: dict[str, str] = {}
    for problem in detail.get("problems") or []:
        said = problem[:1].upper() + problem[1:] + "."
        for name, words in _POLICY_FIELD_WORDS.items():
            if any(w in problem for w in words):
                errors[name] = f"{errors[name]} {said}" if name in errors else said
    return errors


def _percent_text(fraction: float) -> str:
    """0.05 -> "5", 0.025 -> "2.5" (what a person types in a % field)."""
    return f"{fraction * 100:.4f}".rstrip("0").rstrip(".")
