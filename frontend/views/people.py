"""People and their roles (firm admins): invite someone, change their roles, deactivate them; and
the firm's approval policy. Every change goes through rebalancing.services (people, policy)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.shortcuts import redirect, render

from frontend.query import decimal_param, id_param, int_param
from rebalancing.access import advised_households_count
from rebalancing.models import ApprovalPolicy
from rebalancing.services.people import user_deactivate, user_invite, user_reactivate, user_roles_set
from rebalancing.services.policy import approval_policy_set
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability
from tenants.roles import FirmRole

from .common import firm_page, paginate, visible_or_404

ROLE_HELP = {
    FirmRole.FIRM_ADMIN: "templates, models, people, policy, imports, runs, audit log",
    FirmRole.PORTFOLIO_MANAGER: "imports, runs, parameters, approves and releases",
    FirmRole.ADVISOR: "their own households: parameters and approvals",
    FirmRole.COMPLIANCE: "approves above the policy's thresholds, reads the audit log",
}


def _roles(post, prefix: str = "role") -> list[str]:
    chosen = post.getlist(prefix)
    unknown = [r for r in chosen if r not in FirmRole.values]
    if unknown:
        raise ValidationFailed(f"Unknown role {unknown[0][:40]!r}.", detail={"field": "roles"})
    return chosen


@firm_page(Capability.MANAGE_USERS)
def people_page(request):
    User = get_user_model()
    status, refusal = 200, ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invite":
                invited = user_invite(email=request.POST.get("email", ""), first_name=request.POST.get("first_name", ""),
                                      last_name=request.POST.get("last_name", ""), roles=_roles(request.POST),
                                      by=request.user, site_url=request.build_absolute_uri("/"))
                messages.success(request, f"Invited {invited.email}: an e-mail with a link to choose a password "
                                          "is on its way.")
                return redirect("people")
            person = visible_or_404(User.objects.all(), pk=id_param(request.POST, "user"))
            if action == "roles":
                user_roles_set(user=person, roles=_roles(request.POST), by=request.user)
                messages.success(request, f"Roles of {person.username} saved.")
            elif action == "deactivate":
                user_deactivate(user=person, by=request.user)
                messages.success(request, f"{person.username} can no longer sign in or use API keys.")
            elif action == "reactivate":
                user_reactivate(user=person, by=request.user)
                messages.success(request, f"{person.username} may sign in again.")
            else:
                raise ValidationFailed("Choose what to do.")
            return redirect("people")
        except DomainError as exc:
            messages.error(request, exc.message)
            status, refusal = 400, exc.message
    q = request.GET.get("q", "").strip()
    people = (User.objects.prefetch_related("groups")
              .annotate(household_count=advised_households_count())
              .order_by("-is_active", "first_name", "username"))
    if q:
        people = people.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q))
    page = paginate(request, people, per_page=50)
    rows = [{"user": u, "roles": {g.name for g in u.groups.all()}, "invited": not u.has_usable_password()}
            for u in page]
    # A refused form comes back as typed: the invite form, or the one person's row whose roles were
    # refused (before, that row showed the stored roles and the invite form took the ticks instead).
    action = request.POST.get("action") if status != 200 else None
    refused_user = id_param(request.POST, "user") if action in ("roles", "deactivate", "reactivate") else None
    return render(request, "frontend/people.html", {
        "page": page, "rows": rows, "q": q, "roles": [(r, r.label, ROLE_HELP[r]) for r in FirmRole],
        "posted": request.POST if action == "invite" else {},
        "posted_roles": request.POST.getlist("role") if action == "invite" else [],
        "refused_user": refused_user, "refused_roles": request.POST.getlist("role") if action == "roles" else None,
        "refusal": refusal,
    }, status=status)


# --- The approval policy ---------------------------------------------------------------------------

def _policy_values(post) -> dict:
    """The form's values as the policy stores them: percentages typed as people think of them
    (5 means 5%), amounts with or without $ and separators, yes/no as checkboxes."""
    money = {f: decimal_param(post, f, what=what) for f, what in (
        ("auto_max_estimated_tax", "automatic approval's tax limit"),
        ("compliance_min_estimated_tax", "tax at which compliance approves"))}
    percent = {f: decimal_param(post, f, what=what) for f, what in (
        ("auto_max_turnover", "automatic approval's turnover limit"),
        ("compliance_min_turnover", "turnover at which compliance approves"))}
    counts = {"auto_max_trades": int_param(post, "auto_max_trades", minimum=0, maximum=10_000,
                                           what="largest number of trades approved automatically"),
              "max_price_age_days": int_param(post, "max_price_age_days", minimum=0, maximum=365,
                                              what="age of prices (days)")}
    missing = [f for f, v in {**money, **percent, **counts}.items() if v is None]
    if missing:
        raise ValidationFailed(f"Fill in every limit ({missing[0].replace('_', ' ')} is empty).",
                               detail={"field": missing[0]})
    return {**money, **{f: float(v) / 100 for f, v in percent.items()}, **counts,
            "auto_approve": post.get("auto_approve") == "on",
            "compliance_on_restricted": post.get("compliance_on_restricted") == "on"}


@firm_page(Capability.MANAGE_USERS)
def approval_policy_page(request):
    status = 200
    if request.method == "POST":
        try:
            approval_policy_set(by=request.user, **_policy_values(request.POST))
        except (DomainError, BadRequest) as exc:
            messages.error(request, getattr(exc, "message", None) or str(exc))
            status = 400
        else:
            messages.success(request, "Approval policy saved; it applies to proposals made from now on.")
            return redirect("approval_policy")
    policy = ApprovalPolicy.current()
    shown = {
        "auto_max_estimated_tax": f"{policy.auto_max_estimated_tax:,.0f}",
        "compliance_min_estimated_tax": f"{policy.compliance_min_estimated_tax:,.0f}",
        "auto_max_turnover": _percent_text(policy.auto_max_turnover),
        "compliance_min_turnover": _percent_text(policy.compliance_min_turnover),
        "auto_max_trades": policy.auto_max_trades, "max_price_age_days": policy.max_price_age_days,
        "auto_approve": policy.auto_approve, "compliance_on_restricted": policy.compliance_on_restricted,
    }
    if status != 200:  # show what was typed, to correct it
        shown.update({k: v for k, v in request.POST.items() if k in shown})
        shown["auto_approve"] = request.POST.get("auto_approve") == "on"
        shown["compliance_on_restricted"] = request.POST.get("compliance_on_restricted") == "on"
    return render(request, "frontend/approval_policy.html", {"policy": policy, "shown": shown}, status=status)


def _percent_text(fraction: float) -> str:
    """0.05 -> "5", 0.025 -> "2.5" (what a person types in a % field)."""
    return f"{fraction * 100:.4f}".rstrip("0").rstrip(".")
