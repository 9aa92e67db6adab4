"""Households: the list (firm admins and portfolio managers create them), and one household's page:
where each asset class sits across its accounts, its proposal decided as one, its settings, its
accounts and advisors. Each form posts to its own URL, calls one service and comes back."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from frontend.households import household_list_rows, household_view
from frontend.query import decimal_param, id_param, ids_param
from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to
from rebalancing.engine import TAX_STATUSES
from rebalancing.household_parameters import household_settings_effective
from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.imports.report import ImportRejected
from rebalancing.models import CashFlow, Household, HouseholdProposal, ModelPortfolio, ParameterTemplate
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.households import (
    household_account_move,
    household_create,
    household_management_set,
    household_settings_set,
)
from rebalancing.services.people import household_advisors_set
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.runs import run_start
from tenants.errors import DomainError
from tenants.permissions import Capability, is_advisor_only, user_can
from tenants.roles import FirmRole

from .common import firm_page, paginate, visible_or_404


def _household(request, pk: int) -> Household:
    return visible_or_404(households_visible_to(request.user).select_related("template", "model"), pk=pk)


def _done(request, household: Household, text: str, anchor: str = ""):
    messages.success(request, text)
    return redirect(f"{household_url(household)}{anchor}")


def household_url(household: Household) -> str:
    return reverse("household_detail", kwargs={"pk": household.pk})


def _refused(request, household: Household, exc: DomainError, anchor: str = ""):
    messages.error(request, exc.message)
    return redirect(f"{household_url(household)}{anchor}")


def _model_and_template(post) -> tuple[ModelPortfolio | None, ParameterTemplate | None]:
    model_id, template_id = id_param(post, "model"), id_param(post, "template")
    model = ModelPortfolio.objects.filter(pk=model_id).first() if model_id else None
    template = ParameterTemplate.objects.filter(pk=template_id).first() if template_id else None
    if model_id and model is None or template_id and template is None:
        raise BadRequest("Choose the model and template from the lists.")
    return model, template


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
def household_list(request):
    """Every household the user may see; a form to create one."""
    if request.method == "POST":
        model, template = _model_and_template(request.POST)
        try:
            household = household_create(user=request.user, name=request.POST.get("name", ""),
                                         external_id=request.POST.get("external_id", ""),
                                         managed_as=request.POST.get("managed_as", Household.ManagedAs.ACCOUNTS),
                                         model=model, template=template)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("household_list")
        messages.success(request, f"Household {household.name} created. Move its accounts in below.")
        return redirect("household_detail", pk=household.pk)
    q = request.GET.get("q", "").strip()
    households = households_visible_to(request.user)
    if q:
        households = households.filter(name__icontains=q) | households.filter(external_id__icontains=q)
    page = paginate(request, household_list_rows(households).order_by("name"))
    return render(request, "frontend/household_list.html", {
        "page": page, "q": q, "can_create": user_can(request.user, Capability.IMPORT_DATA),
        "models": ModelPortfolio.objects.order_by("name"), "templates": ParameterTemplate.objects.order_by("name"),
        "managed_choices": Household.ManagedAs.choices,
    })


@firm_page(Capability.VIEW_BOOK)
def household_detail(request, pk: int):
    household = _household(request, pk)
    user = request.user
    view = household_view(household, user=user, as_of=timezone.localdate())
    settings = household_settings_effective(household)
    location = settings.values.get("location") or {}
    can_manage_people = user_can(user, Capability.MANAGE_USERS)
    return render(request, "frontend/household_detail.html", {
        "household": household, "view": view, "settings": settings,
        "advisors": household.advisors,
        "location_rows": [(c, [*location.get(c, []), "", "", ""][:len(TAX_STATUSES)]) for c in view.classes if c != "Cash"],
        "tax_statuses": TAX_STATUSES,
        "all_advisors": get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("username")
        if can_manage_people else [],
        "movable": accounts_visible_to(user).exclude(household=household).order_by("custodian_number")[:500]
        if user_can(user, Capability.IMPORT_DATA) and not is_advisor_only(user) else [],
        "models": ModelPortfolio.objects.order_by("name"), "templates": ParameterTemplate.objects.order_by("name"),
        "managed_choices": Household.ManagedAs.choices,
        "can_structure": user_can(user, Capability.IMPORT_DATA),
        "can_people": can_manage_people,
        "can_settings": user_can(user, Capability.EDIT_PARAMETERS),
        "can_run": user_can(user, Capability.RUN_REBALANCE),
        "cash_flows": CashFlow.objects.filter(household=household).select_related("account", "run")[:20],
        "cash_flow_kinds": CashFlow.Kind.choices,
    })


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
@require_POST
def household_management(request, pk: int):
    household = _household(request, pk)
    model, template = _model_and_template(request.POST)
    try:
        household_management_set(user=request.user, household=household, model=model, template=template,
                                 managed_as=request.POST.get("managed_as", ""))
    except DomainError as exc:
        return _refused(request, household, exc, "#management")
    return _done(request, household, "How the household is managed is saved.", "#management")


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
@require_POST
def household_members(request, pk: int):
    """Move an account in (``add``: its id) or out into a household of its own (``remove``)."""
    household = _household(request, pk)
    add, remove = id_param(request.POST, "add"), id_param(request.POST, "remove")
    if bool(add) == bool(remove):
        raise BadRequest("Choose one account to move in or out.")
    account = visible_or_404(accounts_visible_to(request.user), pk=add or remove)
    if remove and account.household_id != household.pk:
        raise BadRequest("That account is not in this household.")
    try:
        household_account_move(user=request.user, account=account, household=household if add else None)
    except DomainError as exc:
        return _refused(request, household, exc, "#accounts")
    verb = "moved into this household" if add else "moved out into a household of its own"
    return _done(request, household, f"{account.custodian_number} {verb}.", "#accounts")


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_USERS)
@require_POST
def household_advisors(request, pk: int):
    household = _household(request, pk)
    chosen = ids_param(request.POST, "advisors")
    advisors = list(get_user_model().objects.filter(pk__in=chosen, groups__name=FirmRole.ADVISOR))
    if len(advisors) != len(set(chosen)):
        raise BadRequest("Choose advisors from the list.")
    try:
        household_advisors_set(household=household, advisors=advisors, by=request.user)
    except DomainError as exc:
        return _refused(request, household, exc, "#advisors")
    names = ", ".join(a.get_full_name() or a.get_username() for a in advisors) or "nobody"
    return _done(request, household, f"Advisors of {household.name}: {names}.", "#advisors")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_settings(request, pk: int):
    """Tax budget ($ per year; empty: none, or the template's when ``inherit``), the order of tax
    statuses for each asset class, and each account's allowed asset classes."""
    household = _household(request, pk)
    post = request.POST
    settings: dict = {}
    if post.get("tax_budget_from") != "inherit":
        budget = decimal_param(post, "tax_budget", what="tax budget")
        settings["tax_budget"] = None if budget is None else float(budget)
    location = {}
    for asset_class in post.getlist("location_class"):
        order = [s for s in post.getlist(f"location:{asset_class}") if s]
        if order:
            location[asset_class] = order
    if location:
        settings["location"] = location
    members = set(household.accounts.values_list("pk", flat=True))
    asset_classes = {a: post.getlist(f"classes:{a}") for a in members if f"classes_shown:{a}" in post}
    try:
        household_settings_set(user=request.user, household=household, settings=settings, asset_classes=asset_classes)
    except DomainError as exc:
        return _refused(request, household, exc, "#settings")
    return _done(request, household, "Household settings saved; the next run uses them.", "#settings")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_cash_flow(request, pk: int):
    """A deposit, withdrawal or RMD typed in dollars; the engine chooses what funds a withdrawal."""
    household = _household(request, pk)
    post = request.POST
    amount = decimal_param(post, "amount", what="amount")
    account_id = id_param(post, "account")
    account = visible_or_404(accounts_visible_to(request.user).filter(household=household), pk=account_id) \
        if account_id else None
    try:
        entered = cash_flow_enter(user=request.user, household=household, kind=post.get("kind", ""),
                                  amount=amount if amount is not None else Decimal(0), account=account,
                                  reference=post.get("reference", ""))
    except DomainError as exc:
        return _refused(request, household, exc, "#cash-flows")
    flow = entered.cash_flow
    if not entered.created:
        return _done(request, household, f"Reference {flow.reference} was entered before; nothing changed.",
                     "#cash-flows")
    if flow.kind == flow.Kind.DEPOSIT:
        text = f"Deposit of ${flow.amount:,.2f} credited to {flow.account.custodian_number}; run {flow.run_id} invests it."
    else:
        text = (f"{flow.get_kind_display()} of ${flow.amount:,.2f} planned: estimated tax ${flow.tax_cost:,.2f}. "
                "Its sales wait for approval below.")
    return _done(request, household, text, "#proposal")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_cash_flow_upload(request, pk: int):
    """A CSV of the household's cash flows (docs/csv-formats.md): all of it, or none with the problems."""
    household = _household(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        raise BadRequest("Choose a CSV file to upload.")
    try:
        summary = cash_flows_import(source=upload, user=request.user, only=household,
                                    households=households_visible_to(request.user))
    except ImportRejected as exc:
        problems = (exc.detail or {}).get("problems", [])[:10]
        lines = "; ".join(f"row {p['row']}{', ' + p['column'] if p['column'] else ''}: {p['problem']}" for p in problems)
        messages.error(request, f"{exc.message} {lines}")
        return redirect(f"{household_url(household)}#cash-flows")
    except DomainError as exc:
        return _refused(request, household, exc, "#cash-flows")
    return _done(request, household, f"Cash-flow file: {summary.created} entered, {summary.unchanged} entered before.",
                 "#cash-flows")


@firm_page(Capability.VIEW_BOOK, post=Capability.RUN_REBALANCE)
@require_POST
def household_rebalance(request, pk: int):
    household = _household(request, pk)
    try:
        run = run_start(scope=RunScope(household_id=household.pk), user=request.user)
    except DomainError as exc:
        return _refused(request, household, exc)
    messages.success(request, f"Run {run.pk} started for {household.name}.")
    return redirect("run_detail", pk=run.pk)


@firm_page((Capability.APPROVE, Capability.APPROVE_COMPLIANCE))
@require_POST
def household_proposal_decide_view(request, pk: int, proposal_pk: int):
    """One decision for the household's proposals: approve (or reject, with a reason) them together."""
    household = _household(request, pk)
    together = visible_or_404(HouseholdProposal.objects.filter(
        household=household, pk__in=proposals_visible_to(request.user).values("household_proposal_id")), pk=proposal_pk)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        raise BadRequest("Choose approve or reject.")
    try:
        after = household_proposal_decide(household_proposal=together, user=request.user,
                                          approve=decision == "approve", comment=request.POST.get("comment", "").strip())
    except DomainError as exc:
        return _refused(request, household, exc, "#proposal")
    counts = {}
    for p in after:
        counts[p.get_status_display().lower()] = counts.get(p.get_status_display().lower(), 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return _done(request, household, f"Household proposal {'approved' if decision == 'approve' else 'rejected'}: "
                 f"{summary}.", "#proposal")


__all__ = [
    "household_advisors", "household_cash_flow", "household_cash_flow_upload", "household_detail", "household_list", "household_management", "household_members",
    "household_proposal_decide_view", "household_rebalance", "household_settings"
]
