"""Households: the list (firm admins and portfolio managers create them), and one household's page:
where each asset class sits across its accounts, its proposal decided as one, its settings, its
accounts and advisors. Each form posts to its own URL, calls one service and comes back."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from frontend.households import household_cash_flows, household_list_rows, household_view
from frontend.query import date_param, decimal_param, id_param, ids_param, int_param
from frontend.templatetags.formatting import half_up, money
from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to
from rebalancing.api.visibility import book_wide_visible_to
from rebalancing.engine import TAX_STATUSES, EngineError, default_location_preferences
from rebalancing.engine_inputs import household_tax_budget_standing
from rebalancing.exports import csv_download, csv_text
from rebalancing.household_parameters import (
    INSIDE_BANDS_CHOICES,
    household_settings_effective,
    rates_apart_on_returns,
    return_rates,
)
from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.imports.report import ImportRejected
from rebalancing.ledger.filing_years import MARRIED
from rebalancing.models import (
    Account,
    ApprovalPolicy,
    CashFlow,
    Household,
    HouseholdProposal,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    ProposalApproval,
)
from rebalancing.selectors import RunScope, approved_unreleased
from rebalancing.services.assignments import superseded_words
from rebalancing.services.book import template_save
from rebalancing.services.cash_flows import CashFlowEntered, approved_giving_way, cash_flow_enter
from rebalancing.services.household_revisions import AccountEdit, household_proposal_resolve
from rebalancing.services.households import (
    household_account_move,
    household_create,
    household_management_set,
    household_rebalance_preview,
    household_settings_set,
)
from rebalancing.services.people import household_advisors_set
from rebalancing.services.proposals import approvals_missing, household_proposal_decide, policy_decide
from rebalancing.services.revisions import INSTRUCTION_ACTIONS
from rebalancing.services.rmd import account_rmd_facts_set, rmd_due_for_household, rmds_owed, rmds_shown
from rebalancing.services.runs import run_start
from rebalancing.services.tax_returns import (
    CARRYOVER_FIELDS,
    household_tax_set,
    return_words,
    taxable_incomes_apart,
)
from rebalancing.typed_numbers import DOLLARS, PERCENT
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError, NotFound, ValidationFailed
from tenants.permissions import Capability, user_can
from tenants.roles import FirmRole

from .common import KeptForm, firm_page, keep_posted, paginate, posted_kept, refusal_text, visible_or_404
from .proposals import MAX_INSTRUCTION_ROWS, approvals_words, instructions_posted


def _household(request, pk: int) -> Household:
    return visible_or_404(households_visible_to(request.user).select_related("template", "model"), pk=pk)


def _done(request, household: Household, text: str, anchor: str = ""):
    # Back to the top of the page, where the message is (as ``_refused``): at the form's anchor, far
    # down a long page, the outcome was out of sight. ``anchor`` names the form.
    messages.success(request, text)
    return redirect(household_url(household))


def household_url(household: Household) -> str:
    return reverse("household_detail", kwargs={"pk": household.pk})


def _refused(request, household: Household, exc: DomainError, anchor: str = ""):
    # Back to the top of the page, where the message is: at the form's anchor (far down a long page)
    # the refusal was out of sight and the form seemed to do nothing. ``anchor`` names the form.
    messages.error(request, exc.message)
    return redirect(household_url(household))


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
            keep_posted(request, "household")  # the form comes back as typed, to correct it
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
        "managed_choices": Household.ManagedAs.choices, "posted": posted_kept(request, "household"),
    })


_RMD_SHOWS = {"owing": "Owing", "all": "All computed", "missing": "Cannot be computed"}


@firm_page(Capability.VIEW_BOOK)
def rmd_report(request):
    """The RMDs of the user's book this year: each owner's left to take, earliest deadline first, and
    the IRAs whose RMD cannot be computed yet (which fact is missing); a CSV of the same rows."""
    today = timezone.localdate()
    show = request.GET.get("show", "owing")
    if show not in _RMD_SHOWS:
        show = "owing"
    rows = rmds_owed(accounts_visible_to(request.user), as_of=today)
    shown = rmds_shown(rows, show)
    if request.GET.get("download") == "csv":
        text = csv_text(
            ("household_id", "household", "owner", "accounts", "year", "first", "rmd", "taken_or_planned", "left",
             "due_by", "missed", "shortfall", "made_up", "excise", "window_end", "problem"),
            [(r.household.external_id, r.household.name, r.owner, "|".join(a.custodian_number for a in r.accounts),
              r.year, "yes" if r.first else "no", "" if r.required is None else f"{r.required:.2f}",
              f"{r.distributed:.2f}", f"{r.remaining:.2f}", r.deadline or "", "yes" if r.missed else "no",
              f"{r.shortfall:.2f}", f"{r.made_up:.2f}", "" if r.excise is None else f"{r.excise:.2f}",
              r.window_end or "", r.problem) for r in shown])
        return csv_download(user=request.user, text=text, filename=f"rmds-{today:%Y}-{show}.csv", what="rmds",
                            filters={"show": show})
    return render(request, "frontend/rmd_report.html", {
        "rows": shown, "show": show, "shows": _RMD_SHOWS.items(), "year": today.year, "today": today,
        "counts": {key: len(rmds_shown(rows, key)) for key in _RMD_SHOWS},
        "left": sum((r.remaining for r in rmds_shown(rows, "owing")), Decimal(0)),
    })


def _proposal_budget_words(together: HouseholdProposal | None) -> str:
    """What follows the household proposal's "estimated tax: ..." about the year's tax budget. Tax
    added uses the budget ("adds $1,050 of $5,000 left"); a saving or no tax uses none of it, so the
    budget is only stated ("saves $5,304 and uses none of the year's budget ($0 left)")."""
    if together is None or together.tax_budget is None:
        return ""
    left = money(together.tax_budget, 0)
    tax = half_up(Decimal(str(together.estimated_tax)), 0)  # as the headline says it, to the dollar
    if tax > 0:
        return f" of {left} left in the year's budget"
    if tax < 0:
        return f" and uses none of the year's budget ({left} left)"
    return f" ({left} left in the year's budget)"


@firm_page(Capability.VIEW_BOOK)
def household_detail(request, pk: int):
    household = _household(request, pk)
    user = request.user
    view = household_view(household, user=user, as_of=timezone.localdate())
    _compliance_shown(view.proposal_members)
    _waits_for_shown(view.waiting)
    cash_flows = household_cash_flows(household)
    for flow in cash_flows:
        flow.funding_steps = funding_steps(flow.plan or {})
    settings = household_settings_effective(household)
    own = household.household_overrides or {}
    location = own.get("location") or {}
    can_manage_people = user_can(user, Capability.MANAGE_USERS)
    return render(request, "frontend/household_detail.html", {
        "household": household, "view": view, "settings": settings, "own_budget": own.get("tax_budget"),
        "proposal_budget_words": _proposal_budget_words(view.proposal),
        "own_inside_bands": own.get("inside_bands", ""), "inside_bands_choices": INSIDE_BANDS_CHOICES.items(),
        "inside_bands_label": INSIDE_BANDS_CHOICES[settings.values["inside_bands"]],
        "inherited_inside_bands": INSIDE_BANDS_CHOICES[
            household_settings_effective(household, own=False).values["inside_bands"]],
        "advisors": household.advisors,
        "location_rows": [(c, [*location.get(c, []), "", "", ""][:len(TAX_STATUSES)]) for c in view.classes if c != "Cash"],
        "tax_statuses": TAX_STATUSES,
        "all_advisors": get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("username")
        if can_manage_people else [],
        "movable": accounts_visible_to(user).exclude(household=household).order_by("custodian_number")
        .values_list("custodian_number", "name")[:200] if user_can(user, Capability.IMPORT_DATA) else [],
        "models": ModelPortfolio.objects.order_by("name"), "templates": ParameterTemplate.objects.order_by("name"),
        "managed_choices": Household.ManagedAs.choices,
        "can_structure": user_can(user, Capability.IMPORT_DATA),
        "can_people": can_manage_people,
        "can_settings": user_can(user, Capability.EDIT_PARAMETERS),
        "can_run": user_can(user, Capability.RUN_REBALANCE),
        "approved_waiting": approved_giving_way(household.pk)
        if user_can(user, Capability.RUN_REBALANCE) or user_can(user, Capability.EDIT_PARAMETERS) else [],
        "cash_flows": cash_flows, "new_proposals": _new_proposals_words(view.accounts),
        **_rmd_context(household, timezone.localdate(), kept=posted_kept(request, "rmd-facts")),
        "cash_flow_kinds": CashFlow.Kind.choices, "posted": posted_kept(request, "cash-flow"),
        **_forms_kept(request, view),
        "posted_members": posted_kept(request, "members"),
        **_tax_context(request, household, view.accounts),
        "realised_ytd": _realised_this_year(view.accounts, timezone.localdate().year),
        "budget_standing": household_tax_budget_standing(
            household, view.accounts, settings.values.get("tax_budget"), timezone.localdate().year)
        if household.is_unit else None,
        "instruction_actions": INSTRUCTION_ACTIONS, "max_instruction_rows": MAX_INSTRUCTION_ROWS,
    })


def _realised_this_year(accounts, year: int) -> dict | None:
    """The household's gains realised so far in tax year ``year``, short- and long-term, over its
    taxable accounts (``Account.realised_ytd``: another year's figures count as none); None when
    it has no taxable account."""
    taxable = [a for a in accounts if a.taxable]
    if not taxable:
        return None
    figures = [a.realised_ytd(year) for a in taxable]
    return {"year": year, "short": sum((f[0] for f in figures), Decimal(0)),
            "long": sum((f[1] for f in figures), Decimal(0))}


def _compliance_shown(members: list[Proposal]) -> None:
    """Each account's compliance state on the household's proposal (``compliance_state``), as its
    approvals say (``approvals_missing``, the rule a decision follows): "waiting" while it is pending
    without compliance's approval, "approved" once compliance gave it, "" when it needs none or left
    the queue without it. ``requires_compliance`` alone stays set after the approval. With it, why
    compliance must approve (``compliance_why``: the policy's reasons, as the Approvals list gives
    them) and who has approved so far (``approved_by``), so that a row waiting says for what and whom."""
    policy = ApprovalPolicy.current()
    given: dict[int, list[ProposalApproval]] = {}
    for a in (ProposalApproval.objects.filter(proposal__in=[p.pk for p in members],
                                              decision=ProposalApproval.Decision.APPROVE)
              .select_related("user").order_by("at", "pk")):
        given.setdefault(a.proposal_id, []).append(a)
    submitted = None  # the policy's reasons when it was submitted, read where the thresholds moved since
    for p in members:
        approvals = given.get(p.pk, [])
        p.approved_by = "; ".join(
            (f"{a.user.get_full_name() or a.user.get_username()} ({a.get_capacity_display().lower()})" if a.user
             else "the approval policy") + f", {timezone.localtime(a.at):%b} {timezone.localtime(a.at).day}"
            for a in approvals)
        if not p.requires_compliance:
            p.compliance_state = p.compliance_why = ""
            continue
        waiting = ProposalApproval.Capacity.COMPLIANCE in approvals_missing(p, policy=policy)
        p.compliance_state = ("waiting" if p.status == Proposal.Status.PENDING else "") if waiting else "approved"
        reasons = policy_decide(policy, p, discretionary=False).reasons
        if not reasons and submitted is None:
            submitted = dict(AuditEvent.objects.filter(
                object_type="proposal", action="proposal.submit", object_id__in=[str(m.pk) for m in members])
                .exclude(comment="").values_list("object_id", "comment"))
        p.compliance_why = "; ".join(reasons) or submitted.get(str(p.pk), "") or "the firm's approval policy"


def _waits_for_shown(proposals: list[Proposal]) -> None:
    """What each account's proposal on its way waits for (``waits_for``), in words: the approvals
    it lacks (``approvals_missing``, as its own page says them), its release, or its orders' fills."""
    for p in proposals:
        if p.status == Proposal.Status.PENDING:
            p.waits_for = approvals_words(p, approvals_missing(p))
        elif p.status == Proposal.Status.APPROVED:
            p.waits_for = "its release by a portfolio manager"
        else:  # released: its orders are out
            p.waits_for = "its orders' fills at the custodian"


def funding_steps(plan: dict) -> list[str]:
    """A withdrawal's or RMD's funding in the order the money is raised: the cash taken, then each
    sale with its shares and proceeds (from the plan's sales), then what the proceeds come to (the
    part left as cash, the income and gains and their tax, what was not sold). The engine's words
    name a sale without its amount, after those totals; plans already stored read the same way."""
    explanation = list(plan.get("explanation") or [])
    sales = plan.get("sales") or []
    if not sales:
        return explanation
    cash = [line for line in explanation if " from the cash of " in line]
    after = [line for line in explanation if line not in cash and not line.startswith("sell ")]
    sold = []
    for s in sales:
        gain = Decimal(str(s["gain"]))
        what = (f"a {_dollars(-gain)} loss" if gain < 0 else f"a {_dollars(gain)} gain" if gain > 0 else "no gain")
        # (A plan restated from the ledger's figures: the part of the loss a wash sale disallows.)
        disallowed = Decimal(str(s.get("disallowed_loss") or 0))
        if disallowed > 0:
            what += (", all of it disallowed by a wash sale" if disallowed >= -gain else
                     f", {_dollars(disallowed)} of it disallowed by a wash sale")
        quantity = f"{Decimal(str(s['quantity'])):,.4f}".rstrip("0").rstrip(".")
        sold.append(f"sell {quantity} {s['symbol']} for {_dollars(Decimal(str(s['proceeds'])))} from lot {s['lot_id']} "
                    f"in {s['account_id']} ({s['term']}-term, {what})")
    return cash + sold + after


def _dollars(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _new_proposals_words(accounts) -> str:
    """What becomes of the proposals a run or a withdrawal makes for these accounts under the firm's
    approval policy (``policy_decide`` decides; this only says it): they wait for approval, unless
    the policy approves a discretionary account's small proposal by itself."""
    policy = ApprovalPolicy.current()
    if not policy.auto_approve or not any(a.discretionary for a in accounts):
        return "wait for approval"
    return ("wait for approval, except those the firm's policy approves by itself: a discretionary account's "
            f"proposal of at most {policy.auto_max_trades} trade{pluralize(policy.auto_max_trades)}, "
            f"{policy.auto_max_turnover:.1%} turnover and {money(policy.auto_max_estimated_tax, 0)} estimated tax, "
            "and under every compliance threshold, is approved at once")


def _married_status_in(household: Household, year: int | None) -> str:
    """The status of ``year`` when it is a married couple's (joint or separate), else ""."""
    status = "" if year is None else household.filing_status_in(year)
    return status if status in MARRIED else ""


def _tax_context(request, household: Household, accounts) -> dict:
    """The returns form: as stored, or as typed when it was just refused (``keep_posted``)."""
    posted = posted_kept(request, "tax")
    this_year = timezone.localdate().year
    stored = {"filing_status": household.filing_status, "filing_status_from": str(this_year),
              "carryforward_year": "" if household.carryforward_year is None else str(household.carryforward_year),
              "sole_filer": household.sole_filer, **{f: f"{getattr(household, f):.2f}" for f in CARRYOVER_FIELDS}}
    stored |= _rates_shown(household, accounts)
    values = {f: posted.get(f, "") for f in stored} if posted else stored
    return {"tax": values, **_taxable_incomes_context(household, posted), "tax_refusal": getattr(posted, "refusal", ""),
            "tax_refused_field": getattr(posted, "refused_field", ""), "filing_choices": Household.FilingStatus.choices,
            "filer_choices": Household._meta.get_field("sole_filer").choices,
            "filing_from_choices": [(str(y), str(y)) for y in range(this_year, this_year - 11, -1)]
            + [("1900", "every year (a correction: it was never another)")],
            "rates_apart": rates_apart_on_returns(household, accounts),
            # A married couple's year (joint or separate) carries in each spouse's part: the status, or "".
            "opening_by_spouse": _married_status_in(household, household.carryforward_year),
            "tax_accounts": [(a, posted.get(f"spouse:{a.pk}", a.spouse) if posted else a.spouse,
                              [c for c in Account.Spouse.choices if a.taxable or c[0] != Account.Spouse.JOINT])
                             for a in accounts]}


# The taxable income inputs: a stored one's is named by its return, a new one's by its parts.
_INCOME_INPUT = "taxable_income:{year}:{spouse}"
_NEW_INCOME = ("taxable_income_year", "taxable_income_spouse", "taxable_income")


def _taxable_incomes_context(household: Household, posted) -> dict:
    """Each filed return's taxable income (the carryover worksheet's line 1) as the form shows it,
    a stored one that fits no return of its year said so, and the row for a new one."""
    incomes = household.taxable_income_by_return
    apart = {k: said for k in incomes for said in taxable_incomes_apart(household, {k: incomes[k]})}
    rows = []
    for (year, spouse), amount in sorted(incomes.items()):
        name = _INCOME_INPUT.format(year=year, spouse=spouse)
        rows.append({"year": year, "spouse": spouse, "words": return_words(spouse), "name": name, "amount": amount,
                     "value": posted.get(name, "") if posted else f"{amount:.2f}", "apart": apart.get((year, spouse), "")})
    return {"taxable_incomes": rows,
            "new_income": {f: posted.get(f, "") for f in _NEW_INCOME} if posted else dict.fromkeys(_NEW_INCOME, ""),
            "income_return_choices": [("", "The household's (one return)"), ("first", "First spouse's (filed separately)"),
                                      ("second", "Second spouse's (filed separately)")]}


def _taxable_incomes_posted(post, household: Household) -> tuple[list[dict], list[str]]:
    """The taxable incomes the form changes, each with the input that holds it (to say a refusal by
    it): a stored one whose amount was edited (emptied: removed; one left as shown is not sent, so a
    stored one on a return its year no longer has does not block the rest of the form) and the new
    row when filled."""
    entries, inputs = [], []
    for (year, spouse), amount in sorted(household.taxable_income_by_return.items()):
        name = _INCOME_INPUT.format(year=year, spouse=spouse)
        if name in post and post[name].strip() != f"{amount:.2f}":
            entries.append({"year": year, "spouse": spouse, "amount": post[name]})
            inputs.append(name)
    year, spouse, amount = (post.get(f, "").strip() for f in _NEW_INCOME)
    if year or amount:
        entries.append({"year": int(year) if year.isascii() and year.isdigit() and len(year) <= 6 else year,
                        "spouse": spouse, "amount": amount})
        inputs.append("")
    return entries, inputs


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
@require_POST
def household_management(request, pk: int):
    household = _household(request, pk)
    try:
        try:
            model, template = _model_and_template(request.POST)
        except BadRequest as exc:  # an id not in the lists (a form cut short or crafted): said above the form
            raise ValidationFailed(str(exc)) from None
        managed = household_management_set(user=request.user, household=household, model=model, template=template,
                                           managed_as=request.POST.get("managed_as", ""))
    except DomainError as exc:
        keep_posted(request, "management", exc)  # the form comes back as chosen, the error by its field
        return _refused(request, household, exc, "#management")
    return _done(request, household, "How the household is managed is saved." + superseded_words(managed.superseded),
                 "#management")


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
@require_POST
def household_members(request, pk: int):
    """Move an account in (``add``: its account number) or out into a household of its own
    (``remove``: its id)."""
    household = _household(request, pk)
    number, remove = request.POST.get("add", "").strip(), id_param(request.POST, "remove")
    if bool(number) == bool(remove):
        raise BadRequest("Give one account to move in, or choose one to move out.")
    if number:
        account = accounts_visible_to(request.user).filter(custodian_number=number).first()
        if account is None:
            keep_posted(request, "members")  # the number comes back as typed, to correct it
            return _refused(request, household, NotFound(f"No account {number}, or not yours to see."), "#accounts")
    else:
        account = visible_or_404(accounts_visible_to(request.user), pk=remove)
    if remove and account.household_id != household.pk:
        raise BadRequest("That account is not in this household.")
    rates_before = (account.short_term_rate, account.long_term_rate)
    try:
        moved = household_account_move(user=request.user, account=account, household=household if number else None)
    except DomainError as exc:
        if number:
            keep_posted(request, "members")
        return _refused(request, household, exc, "#accounts")
    verb = "moved into this household" if number else "moved out into a household of its own"
    rates = (moved.short_term_rate, moved.long_term_rate)
    # It files on its new household's return: say the rates it took there, which its estimates use.
    said = ("" if rates == rates_before else
            " It files on that household's return now, at its rates: {:.1%} short-term, {:.1%} long-term "
            "(before: {:.1%} / {:.1%}).".format(*rates, *rates_before))
    return _done(request, household, f"{account.custodian_number} {verb}.{said}{superseded_words(moved.superseded)}",
                 "#accounts")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_tax(request, pk: int):
    """The household's returns: filing status, the opening capital loss carryover (each spouse's
    when married filing separately), each return's marginal rates and whose return each account is
    on. A refusal keeps what was typed."""
    household = _household(request, pk)
    post = request.POST
    members = household.accounts.values_list("pk", flat=True)
    try:
        try:  # typed: a refusal above the form, not an error page
            facts = {"filing_status": post.get("filing_status", ""),
                     "filing_status_from": int_param(post, "filing_status_from", minimum=1900,
                                                     maximum=timezone.localdate().year,
                                                     what="first year of the filing status"),
                     "carryforward_year": int_param(post, "carryforward_year", minimum=1900,
                                                    maximum=timezone.localdate().year,
                                                    what="year the opening loss is carried into"),
                     # (Read by the service, which names the field it refuses: ``tax_returns._amount``.)
                     **{f: post.get(f, "") for f in CARRYOVER_FIELDS}}
            if "sole_filer" in post:
                facts["sole_filer"] = post["sole_filer"]
            facts |= _rates_posted(post, household)
        except BadRequest as exc:
            raise ValidationFailed(str(exc)) from None
        spouses = {a: post[f"spouse:{a}"] for a in members if f"spouse:{a}" in post}
        incomes, income_inputs = _taxable_incomes_posted(post, household)
        try:
            household = household_tax_set(user=request.user, household=household, facts=facts, spouses=spouses,
                                          taxable_incomes=incomes)
        except ValidationFailed as exc:
            entry = exc.detail.get("entry")
            if isinstance(entry, int) and income_inputs[entry]:  # a stored one's amount: said by its input
                raise ValidationFailed(exc.message, detail={**exc.detail, "field": income_inputs[entry]}) from None
            raise
    except DomainError as exc:
        keep_posted(request, "tax", exc)
        return _refused(request, household, exc, "#tax")
    return _done(request, household, "Tax returns saved: the Schedule D report, the carried loss and the next run "
                 f"use them.{_joint_rates_words(household, facts)}", "#tax")


def _joint_rates_words(household: Household, facts: dict) -> str:
    """Said when one spouse's rates were changed and a joint account is on both returns: that
    account has one rate, so the other spouse's return takes it too (not silently)."""
    changed = {"second" if f.startswith("second_") else "first" for f in facts if f in _RATE_WORDS}
    if len(changed) != 1 or not household.files_separately:
        return ""
    joint = list(household.accounts.filter(taxable=True, spouse=Account.Spouse.JOINT)
                 .order_by("custodian_number").values_list("custodian_number", flat=True))
    if not joint:
        return ""
    other = "second" if changed == {"first"} else "first"
    return (f" {', '.join(joint)} {'is' if len(joint) == 1 else 'are'} joint, on both spouses' returns at one rate: "
            f"the {other} spouse's return takes the rates you changed for {', '.join(joint)} too.")


def _rates_shown(household: Household, accounts) -> dict[str, str]:
    """Each return's rates in percent as the form shows them ("" where its accounts differ)."""
    rates = return_rates(household, accounts)
    first, second = (rates["first"], rates["second"]) if household.files_separately else (rates[""], None)
    out = {}
    for prefix, pair in (("", first), ("second_", second)):
        for leg, rate in zip(("short", "long"), pair or (None, None), strict=True):
            out[f"{prefix}{leg}_term_rate"] = "" if rate is None else f"{Decimal(rate) * 100:.2f}".rstrip("0").rstrip(".")
    return out


_RATE_WORDS = {"short_term_rate": "short-term rate", "long_term_rate": "long-term rate",
               "second_short_term_rate": "second spouse's short-term rate",
               "second_long_term_rate": "second spouse's long-term rate"}


def _rates_posted(post, household: Household) -> dict[str, Decimal]:
    """The returns' rates as typed, in percent (40.8); empty, or as the form showed them: kept as
    they are (a joint account's two returns show the same rates: changing one spouse's is asking
    for that one)."""
    shown = _rates_shown(household, list(household.accounts.all()))
    out = {}
    for field, words in _RATE_WORDS.items():
        percent = decimal_param(post, field, what=words, unit=PERCENT)
        if percent is None or (shown[field] and percent == Decimal(shown[field])):
            continue
        if not 0 <= percent <= 100:
            raise ValidationFailed(f"The {words} is a percentage from 0 to 100, not {percent}.", detail={"field": field})
        if percent != percent.quantize(Decimal("0.01")):
            raise ValidationFailed(f"The {words} takes at most two decimals (40.85), not {percent}.",
                                   detail={"field": field})
        out[field] = percent / 100
    return out


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_USERS)
@require_POST
def household_advisors(request, pk: int):
    household = _household(request, pk)
    try:
        try:
            chosen = ids_param(request.POST, "advisors")
        except BadRequest as exc:
            raise ValidationFailed(str(exc), detail={"field": "advisors"}) from None
        advisors = list(get_user_model().objects.filter(pk__in=chosen, groups__name=FirmRole.ADVISOR))
        if len(advisors) != len(set(chosen)):
            raise ValidationFailed("Choose advisors from the list: one of those ticked is not an advisor of the firm.",
                                   detail={"field": "advisors"})
        household_advisors_set(household=household, advisors=advisors, by=request.user)
    except DomainError as exc:
        keep_posted(request, "advisors", exc)  # the ticks come back as they were, to correct them
        return _refused(request, household, exc, "#advisors")
    names = ", ".join(a.get_full_name() or a.get_username() for a in advisors) or "nobody"
    return _done(request, household, f"Advisors of {household.name}: {names}.", "#advisors")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_settings(request, pk: int):
    """Tax budget ($ per year; empty: none, or the template's when ``inherit``), the order of tax
    statuses for each asset class, how it is rebalanced inside its drift bands (empty: as the
    template says), and each account's allowed asset classes."""
    household = _household(request, pk)
    post = request.POST
    settings: dict = {}
    # Empty: follow the template (no override); "none": no budget even if the template has one.
    if post.get("tax_budget", "").strip().lower() in ("none", "no budget"):
        settings["tax_budget"] = None
    else:
        try:
            budget = decimal_param(post, "tax_budget", what="tax budget", unit=DOLLARS)
        except BadRequest as exc:  # typed: said at the top of the page and by the field, not on an error page
            refusal = ValidationFailed(str(exc), detail={"field": "tax_budget"})
            keep_posted(request, "settings", refusal)
            return _refused(request, household, refusal, "#settings")
        if budget is not None:
            settings["tax_budget"] = float(budget)
    # Empty: as the template says; a value the engine does not know is refused by the service.
    if post.get("inside_bands", ""):
        settings["inside_bands"] = post["inside_bands"]
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
        stored = household_settings_set(user=request.user, household=household, settings=settings,
                                        asset_classes=asset_classes)
    except DomainError as exc:
        keep_posted(request, "settings", exc)  # the settings come back as typed, the error by its field
        return _refused(request, household, exc, "#settings")
    saved = ("Household settings saved; the next run uses them." if household.is_unit else
             "Household settings saved. They take effect once the household is managed as one: account by account, "
             "as it is now, each account follows its own parameters.")
    return _done(request, household, saved + superseded_words(stored.superseded), "#settings")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_cash_flow(request, pk: int):
    """A deposit, withdrawal or RMD typed in dollars; the engine chooses what funds a withdrawal."""
    household = _household(request, pk)
    post = request.POST
    account_id = id_param(post, "account")
    account = visible_or_404(accounts_visible_to(request.user).filter(household=household), pk=account_id) \
        if account_id else None
    taken_outside = post.get("taken_outside") == "1"
    makes_up = id_param(post, "makes_up_year")  # a year: the missed RMD this one makes up
    try:
        try:  # typed: a refusal above the form, not an error page
            amount = decimal_param(post, "amount", what="amount", unit=DOLLARS)
            as_of = date_param(post, "as_of", what="day it was taken") if taken_outside else None
        except BadRequest as exc:
            raise ValidationFailed(str(exc)) from None
        entered = cash_flow_enter(user=request.user, household=household, kind=post.get("kind", ""),
                                  amount=amount, account=account, reference=post.get("reference", ""),
                                  as_of=as_of, taken_outside=taken_outside, makes_up_year=makes_up,
                                  repeat=post.get("repeat") == "1")
    except DomainError as exc:
        keep_posted(request, "cash-flow")  # the form comes back as typed, to correct it
        return _refused(request, household, exc, "#cash-flows")
    flow = entered.cash_flow
    if not entered.created:
        return _done(request, household, f"Reference {flow.reference} was entered before; nothing changed.",
                     "#cash-flows")
    if flow.kind == flow.Kind.DEPOSIT:
        text = (f"Deposit of ${flow.amount:,.2f} credited to {flow.account.custodian_number}"
                + (f", not invested: {entered.not_invested}" if entered.not_invested else
                   f"; run {flow.run_id} invests it."))
        return _done(request, household, text, "#cash-flows")
    if flow.taken_outside:
        text = (f"{flow.get_kind_display()} of ${flow.amount:,.2f} taken from {flow.account.custodian_number} on "
                f"{flow.as_of:%d %B %Y} recorded: its RMD counts it. Nothing is sold.")
        return _done(request, household, text, "#rmds")
    return _done(request, household, _planned_words(entered), "#proposal")


def _planned_words(entered: CashFlowEntered) -> str:
    """What a withdrawal or RMD planned just now does: its tax, whether it sells anything and where
    its proposals stand, and every open proposal that gave way to it."""
    flow = entered.cash_flow
    approved = entered.statuses == {Proposal.Status.APPROVED}
    if not entered.sales:
        paying = _cash_paying(flow)
        where = ("cash pays it all" + (f" ({paying})" if paying else "") + ", nothing is sold; "
                 + ("approved within the firm's policy" if approved else "it waits for approval below"))
    else:
        sales = f"its sales ({entered.sales} lot{pluralize(entered.sales)})"
        where = sales + (" are approved within the firm's policy: release them to the custodian" if approved else
                         " wait for approval below")
    # The RMD an IRA still owed, taken first: its tax is owed this year whichever account pays.
    owed = "; ".join(f"{money(v)} from {number}" for number, v in ((flow.plan or {}).get("rmd_taken") or {}).items())
    text = (f"{flow.get_kind_display()} of ${flow.amount:,.2f}"
            + (f" making up the {flow.makes_up_year} RMD" if flow.makes_up_year else "")
            + (f" planned, first the RMD still owed this year ({owed}: a distribution from the IRA counts towards "
               "it, and its tax is due whichever account pays)" if owed else " planned")
            + f": estimated tax {money(flow.tax_cost)}; {where}.")  # a saving: −$3.70, not $-3.70
    if entered.gave_way:
        named = "; ".join(f"{g.account} #{g.proposal_id} ({g.state})" for g in entered.gave_way)
        many = len(entered.gave_way) > 1
        what = "RMD" if flow.kind == CashFlow.Kind.RMD else "withdrawal"
        text += (f" {len(entered.gave_way)} open proposal{'s' if many else ''} of the household, made on the book "
                 f"before the {what}, gave way to it: {named}. A run after it proposes again.")
    return text


def _cash_paying(flow: CashFlow) -> str:
    """Whose cash pays a withdrawal that sells nothing, as the page names accounts: "$1,000.00 from
    LEE-JT (Taxable), $500.00 from LEE-ROTH (Roth IRA)", largest first."""
    cash_used = {number: Decimal(str(v)) for number, v in ((flow.plan or {}).get("cash_used") or {}).items()}
    statuses = dict(Account.objects.filter(household_id=flow.household_id, custodian_number__in=cash_used)
                    .values_list("custodian_number", "tax_status"))
    labels = dict(Account.TaxStatus.choices)
    return ", ".join(f"{_dollars(amount)} from {number}"
                     + (f" ({labels.get(statuses[number], statuses[number])})" if number in statuses else "")
                     for number, amount in sorted(cash_used.items(), key=lambda kv: (-kv[1], kv[0])))


def _forms_kept(request, view) -> dict:
    """The forms of the page refused just now, as typed (``keep_posted``): the management, advisors and
    settings forms' values, and the household proposal edit's rows and drops (one empty row when none)."""
    kept = {f"kept_{form}": posted_kept(request, form) for form in ("management", "advisors", "settings")}
    resolve = posted_kept(request, f"household-resolve-{view.proposal.pk}") if view.proposal else KeptForm()
    columns = [resolve.getlist(name) for name in ("ins_account", "ins_action", "ins_symbol", "ins_buy", "ins_amount")]
    rows = [dict(zip(("account", "action", "symbol", "buy", "amount"), row, strict=True))
            for row in zip(*columns, strict=False)][:MAX_INSTRUCTION_ROWS]
    settings = kept["kept_settings"]
    if settings:  # the settings form as typed, in place of the stored settings it shows otherwise
        location = {c: settings.getlist(f"location:{c}") for c in settings.getlist("location_class")}
        kept |= {"own_inside_bands": settings.get("inside_bands", ""), "location_rows": [
            (c, [*location.get(c, []), "", "", ""][:len(TAX_STATUSES)]) for c in view.classes if c != "Cash"]}
    return {**kept, "kept_advisors_chosen": kept["kept_advisors"].getlist("advisors"), "kept_resolve": resolve, "resolve_rows": rows or [{}, {}], "resolve_drops": resolve.getlist("drop"),
            "kept_classes": {int(k[8:]): settings.getlist(k) for k in settings
                             if k.startswith("classes:") and k[8:].isascii() and k[8:].isdigit()}}


def _rmd_context(household, today, kept: KeptForm) -> dict:
    """The household's open RMD lines, and each IRA once for its facts form: as stored (last year's
    value filled in), or as typed for the IRA whose facts were just refused (``kept``)."""
    rmds = rmd_due_for_household(household, as_of=today)
    accounts = list({line.account.pk: line.account for line in rmds}.values())
    for account in accounts:
        account.last_year_value = account.year_end_value(today.year - 1)
        refused = bool(kept.refusal) and kept.get("account") == str(account.pk)
        account.facts_refusal, account.facts_refused_field = (kept.refusal, kept.refused_field) if refused else ("", "")
        account.facts_shown = {name: kept.get(name, "") for name in _RMD_FACTS} if refused else {
            "owner_name": account.owner_name,
            "owner_birth_date": account.owner_birth_date.isoformat() if account.owner_birth_date else "",
            "spouse_birth_date": account.spouse_birth_date.isoformat() if account.spouse_birth_date else "",
            "year_end_value": "" if account.last_year_value is None else account.last_year_value,
            "year_end_year": today.year - 1}
        # The custodian's RMD asked for where the product cannot compute it (the Joint and Last Survivor
        # Table's years), and shown where it is in use, one field a year.
        years = sorted({line.year for line in rmds if line.account.pk == account.pk
                        and (line.amount_wanted or (line.required is not None and line.required.entered))}
                       | ({int(k[11:]) for k in kept if k.startswith("rmd_amount_") and k[11:].isdigit()} if refused
                          else set()))  # a figure refused comes back where it was typed
        account.rmd_amount_fields = [
            (year, kept.get(f"rmd_amount_{year}", "") if refused else
             ("" if account.rmd_amount(year) is None else account.rmd_amount(year))) for year in years]
        account.rmd_amount_wanted = any(line.amount_wanted for line in rmds if line.account.pk == account.pk)
    missed_years = sorted({line.year for line in rmds if line.missed})
    return {"rmd_year": today.year, "rmd_today": today, "rmds": rmds, "rmd_accounts": accounts,
            "rmd_missed_years": missed_years}


_RMD_FACTS = ("owner_name", "owner_birth_date", "spouse_birth_date", "year_end_value", "year_end_year")


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
@require_POST
def household_rmd_facts(request, pk: int):
    """What one IRA's RMD is computed from: the owner's date of birth, the spouse's when sole
    beneficiary, the value on 31 December of last year, and - where the Joint and Last Survivor
    Table applies, which the product does not carry - the RMD the custodian computed for the year."""
    household = _household(request, pk)
    post = request.POST
    account = visible_or_404(accounts_visible_to(request.user).filter(household=household),
                             pk=id_param(post, "account"))
    today = timezone.localdate()
    readers = {"owner_birth_date": lambda: date_param(post, "owner_birth_date", what="owner's date of birth"),
               "spouse_birth_date": lambda: date_param(post, "spouse_birth_date", what="spouse's date of birth"),
               "year_end_value": lambda: decimal_param(post, "year_end_value", what="31 December value", unit=DOLLARS),
               "year_end_year": lambda: int_param(post, "year_end_year", minimum=1900, maximum=today.year,
                                                  what="year of the value")}
    # The custodian's RMD of a year the product cannot compute: "rmd_amount_2026" (empty removes it).
    amount_years = sorted(int(key[11:]) for key in post if key.startswith("rmd_amount_") and key[11:].isascii()
                          and key[11:].isdigit() and len(key) == 15)
    try:
        facts = {}
        for field, read in readers.items():
            try:  # typed: said at the top of the page and by the field, not on an error page
                facts[field] = read()
            except BadRequest as exc:
                raise ValidationFailed(str(exc), detail={"field": field}) from None
        amounts = {}
        for year in amount_years:
            try:
                amounts[year] = decimal_param(post, f"rmd_amount_{year}", what=f"{year} RMD from the custodian",
                                              unit=DOLLARS)
            except BadRequest as exc:
                raise ValidationFailed(str(exc), detail={"field": "rmd_amount", "year": year}) from None
        account_rmd_facts_set(user=request.user, account=account, owner_name=post.get("owner_name"), today=today,
                              rmd_amounts=amounts, **facts)
    except DomainError as exc:
        keep_posted(request, "rmd-facts", exc)  # this IRA's facts come back as typed, to correct them
        return _refused(request, household, exc, "#rmds")
    return _done(request, household, f"RMD facts of {account.custodian_number} saved.", "#rmds")


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
        messages.error(request, _cash_flows_refused(exc))
        return redirect(household_url(household))  # the top, where the message is (see _refused)
    except DomainError as exc:
        return _refused(request, household, exc, "#cash-flows")
    return _done(request, household, f"Cash-flow file: {summary.created} entered, {summary.unchanged} entered before.",
                 "#cash-flows")


CASH_FLOW_PROBLEMS_SAID = 10  # a refused cash-flow file's problems said in its message; the rest counted


def _cash_flows_refused(exc: ImportRejected) -> str:
    """A refused cash-flow file in words, each problem said once (the importer's own message names
    the first, which the list would repeat), a problem of no one column "whole line", as the
    imports page's table says."""
    detail = exc.detail or {}
    problems = detail.get("problems", [])
    total = detail.get("total", len(problems))
    if not problems:
        return exc.message
    # A problem said as a sentence ("... is a taxable account.") loses its full stop: the list is one sentence.
    said = [f"row {p['row']}, {p['column'] or 'whole line'}: {p['problem'].rstrip().removesuffix('.')}"
            for p in problems[:CASH_FLOW_PROBLEMS_SAID]]
    if total > len(said):
        said.append(f"and {total - len(said)} more")
    count = "" if total == 1 else f" ({total} problems)"
    return f"The cash-flow file was refused{count}: {'; '.join(said)}. Nothing was imported."


@firm_page(Capability.VIEW_BOOK)
@require_POST
def household_preview(request, pk: int):
    """What a household rebalance would propose now, stored nowhere (htmx fragment)."""
    household = _household(request, pk)
    context: dict = {"household": household}
    try:
        result = household_rebalance_preview(user=request.user, household=household, as_of=timezone.localdate())
    except (DomainError, EngineError) as exc:
        context["problem"] = exc.message
    else:
        names = dict(household.accounts.values_list("custodian_number", "name"))
        context.update(result=result, rows=[
            {"number": r.account_id, "name": names.get(r.account_id, ""), "summary": r.summary,
             "buys": [t for t in r.trades if t.side == "buy"], "sells": [t for t in r.trades if t.side == "sell"]}
            for r in result.accounts])
    return render(request, "frontend/partials/household_preview.html", context)


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
@require_POST
def template_household(request, pk: int):
    """A template's household settings: the tax budget per year ($), how households are rebalanced
    inside their drift bands (empty: the engine's default) and, per asset class, the tax status it
    goes to first (the others follow in the engine's default order)."""
    parameter_template = visible_or_404(book_wide_visible_to(request.user, ParameterTemplate.objects.all()), pk=pk)
    back = redirect(reverse("template_detail", kwargs={"pk": parameter_template.pk}) + "#household-settings")
    try:
        budget = decimal_param(request.POST, "tax_budget", what="tax budget", unit=DOLLARS)
    except BadRequest as exc:  # typed: said on the template's page by the field, not on an error page
        refusal = ValidationFailed(str(exc), detail={"field": "tax_budget"})
        messages.error(request, refusal.message)
        keep_posted(request, "template-household", refusal)
        return back
    settings: dict = {} if budget is None else {"tax_budget": float(budget)}
    if request.POST.get("inside_bands", ""):
        settings["inside_bands"] = request.POST["inside_bands"]
    location = {}
    for asset_class in request.POST.getlist("location_class"):
        first = request.POST.get(f"location:{asset_class}", "")
        if first:
            default = default_location_preferences([asset_class]).order[asset_class]
            location[asset_class] = [first, *(s for s in default if s != first)]
    if location:
        settings["location"] = location
    try:
        template_save(user=request.user, code=parameter_template.code, name=parameter_template.name,
                      parameters=parameter_template.parameters, overridable=parameter_template.overridable,
                      description=parameter_template.description, template=parameter_template,
                      household_parameters=settings)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))  # a sentence, as the field's own error says it
        keep_posted(request, "template-household", exc)  # the settings come back as typed, to correct them
    else:
        messages.success(request, f"Household settings of “{parameter_template.name}” saved.")
    return back


@firm_page(Capability.VIEW_BOOK, post=Capability.RUN_REBALANCE)
@require_POST
def household_rebalance(request, pk: int):
    """A run of the household; "replace approved" (a box shown when some wait for release) lets it
    replace approved proposals not yet released, which otherwise keep their accounts out."""
    household = _household(request, pk)
    scope = RunScope(household_id=household.pk, replace_approved=request.POST.get("replace_approved") == "1")
    try:
        run = run_start(scope=scope, user=request.user)
    except DomainError as exc:
        refused_for_scope = (exc.detail or {}).get("field") == "scope" and not scope.replace_approved
        waiting = approved_unreleased(scope) if refused_for_scope else []
        if waiting:  # the service words it for the API (its parameter): here, the page's own control
            named = ", ".join(f"#{p.pk} of {p.account.custodian_number}" for p in waiting)
            exc = ValidationFailed(
                f"Nothing to rebalance: the approved proposal{pluralize(len(waiting))} {named}, not yet released, "
                f"{'keep' if len(waiting) > 1 else 'keeps'} the household's accounts out (an approval stands until "
                "it is released or replaced). Release it to the custodian, or tick “Replace the approved "
                "proposals” beside “Rebalance the household” and rebalance again: the new proposals "
                f"{_new_proposals_words(household.accounts.all())}.", detail={"field": "replace_approved"})
        return _refused(request, household, exc)
    messages.success(request, f"Run {run.pk} started for {household.name}"
                     + (" (replacing approved proposals not yet released)." if scope.replace_approved else "."))
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
    return _done(request, household, _decided_words(together, after, approve=decision == "approve"), "#proposal")


def _decided_words(together: HouseholdProposal, after: list[Proposal], *, approve: bool) -> str:
    """What a decision on a household proposal did, headline first. An approval: it is recorded, then
    how many of the accounts still wait for whose approval (the accounts named) - not "1 approved,
    3 pending", which read as if the one approved were this approval's and the rest refused."""
    counts: dict[str, int] = {}
    for p in after:
        counts[p.get_status_display().lower()] = counts.get(p.get_status_display().lower(), 0) + 1
    if not approve:
        return "Household proposal rejected: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "."
    total = len(after)
    # Whose approval each account's proposal still waits for, as an account's decision says.
    waiting: dict[str, list[str]] = {}
    for p in after:
        if p.status == Proposal.Status.PENDING:
            waiting.setdefault(approvals_words(p, approvals_missing(p)), []).append(f"{p.account.custodian_number} #{p.pk}")
    said = [f"Your approval of household proposal #{together.pk} is recorded."]
    for words, accounts in waiting.items():
        n = len(accounts)
        if n > 1:  # "its advisor's approval" is one account's
            words = words.replace("its advisor's", "their advisor's")
        said.append(f"{n} of {total} accounts still wait{'s' if n == 1 else ''} for {words}: {', '.join(accounts)}.")
    approved = counts.get(Proposal.Status.APPROVED.label.lower(), 0)
    if approved == total:
        said.append("The account's proposal is approved." if total == 1 else f"All {total} accounts' proposals are approved.")
    elif approved:
        said.append(f"{approved} of {total} {'is' if approved == 1 else 'are'} approved.")
    return " ".join(said)


def _household_edits(post, members: dict[str, int]) -> dict[int, AccountEdit]:
    """The edit form: "Drop" boxes valued ``<account number>:<symbol>`` and instruction rows, each
    with the account it is for (by number, as the page shows them)."""
    drops: dict[int, list[str]] = {}
    for value in post.getlist("drop"):
        number, _, symbol = value.partition(":")
        if number not in members or not symbol:
            raise ValueError(f"{value!r} is not a trade of this household proposal.")
        drops.setdefault(members[number], []).append(symbol)
    added: dict[int, list] = {}
    for n, number, instruction in instructions_posted(post):
        if number not in members:
            raise ValueError(f"Instruction {n}: choose the account it is for.")
        added.setdefault(members[number], []).append(instruction)
    return {a: AccountEdit(drop_symbols=drops.get(a, ()), instructions=added.get(a, ()))
            for a in drops.keys() | added.keys()}


@firm_page(Capability.APPROVE)  # compliance approves; it does not change what is traded
@require_POST
def household_proposal_resolve_view(request, pk: int, proposal_pk: int):
    """Drop trades and add instructions in the household's accounts, then solve the household again
    (``services.household_revisions.household_proposal_resolve``)."""
    household = _household(request, pk)
    together = visible_or_404(HouseholdProposal.objects.filter(
        household=household, pk__in=proposals_visible_to(request.user).values("household_proposal_id")), pk=proposal_pk)
    members = dict(together.proposals.values_list("account__custodian_number", "account_id"))
    try:
        try:
            edits = _household_edits(request.POST, members)
        except ValueError as exc:
            raise ValidationFailed(str(exc), detail={"field": "instructions"}) from None
        new = household_proposal_resolve(household_proposal=together, edits=edits, by=request.user)
    except DomainError as exc:
        keep_posted(request, f"household-resolve-{together.pk}", exc)  # the rows and drops come back as entered
        return _refused(request, household, exc, "#proposal-edit")
    return _done(request, household, f"Solved the household again as household proposal #{new.pk} "
                 f"({'; '.join(new.revision['changes'])}); #{together.pk} is superseded. Its accounts' proposals "
                 "wait for approval.", "#proposal")


__all__ = [
    "household_proposal_resolve_view",
    "household_advisors", "household_cash_flow", "household_cash_flow_upload", "household_detail", "household_list", "household_management", "household_members",
    "household_preview", "household_proposal_decide_view", "household_rebalance", "household_settings", "household_tax",
]
