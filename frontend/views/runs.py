"""Runs: start one, watch it (an htmx fragment polled while it runs), read its results."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_POST

from frontend.query import a_or_an, decimal_param, id_param
from frontend.selectors import (
    proposals_chosen_pending,
    run_counts_shown_to,
    run_proposal_counts,
    run_superseded_chosen,
    runs_started_by_words,
)
from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to
from rebalancing.api.visibility import book_wide_visible_to, run_scope_shown_to, runs_visible_to
from rebalancing.models import (
    Household,
    ModelPortfolio,
    ParameterTemplate,
    RebalanceRun,
    RunOutcome,
    RunWatch,
)
from rebalancing.selectors import RunScope, accounts_approved_unreleased
from rebalancing.services.run_retries import failed_accounts_retry, run_retried_in
from rebalancing.services.runs import run_cancel, run_start
from rebalancing.typed_numbers import PERCENT
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability, user_can
from tenants.roles import FirmRole

from .common import firm_page, is_htmx, keep_posted, paginate, posted_kept, visible_or_404

FINISHED = (RebalanceRun.Status.COMPLETED, RebalanceRun.Status.CANCELLED, RebalanceRun.Status.FAILED)


SCOPE_CHOICES = {"firm": "", "model": "model", "template": "template", "advisor": "advisor",
                 "household": "household", "accounts": "accounts"}
SCOPE_WORDS = {"model": "On one model", "template": "Under one template", "advisor": "Of one advisor",
               "household": "Of one household", "accounts": "Chosen accounts"}
FIELD_WORDS = {"model": "model", "template": "template", "advisor": "advisor", "household": "household",
               "accounts": "account numbers"}
ACCOUNTS_TYPED_MAX = 10000  # the API's limit on a run's account_ids
HOUSEHOLD_CHOICES_MAX = 200  # more households than this are found by their ID, not picked from a list


def account_numbers_typed(text: str) -> list[str]:
    """Account numbers typed one per line or separated by commas (or both), each once, in order."""
    return list(dict.fromkeys(n.strip() for n in re.split(r"[,;\r\n]+", text) if n.strip()))


def _accounts_named(text: str, user) -> tuple[int, ...]:
    """The accounts typed by their numbers, among those ``user`` may see; every number that names no
    such account is refused by name (the run would otherwise leave it out without a word)."""
    numbers = account_numbers_typed(text)
    if not numbers:
        raise ValidationFailed("Type the numbers of the accounts the run is for, one per line or separated by "
                               "commas.", detail={"field": "accounts"})
    if len(numbers) > ACCOUNTS_TYPED_MAX:
        raise ValidationFailed(f"A run names at most {ACCOUNTS_TYPED_MAX:,} accounts, not {len(numbers):,}; run a "
                               "model, a template or the whole firm instead.", detail={"field": "accounts"})
    found = dict(accounts_visible_to(user).filter(custodian_number__in=numbers)
                 .values_list("custodian_number", "pk"))
    unknown = [n for n in numbers if n not in found]
    if unknown:
        shown = ", ".join(f"“{n[:64]}”" for n in unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20
                                                                  else "")
        raise ValidationFailed(f"No account numbered {shown} among the accounts you may see"
                               f"{'' if len(unknown) == 1 else ' (each)'}; correct or remove "
                               f"{'it' if len(unknown) == 1 else 'them'}. No run was started.",
                               detail={"field": "accounts"})
    return tuple(found[n] for n in numbers)


def _household_named(value: str, user) -> int:
    """The household chosen (or typed, by its ID or its name, in a book too large to list) among those
    ``user`` sees: its ID, its whole name, else the one household whose name or ID holds what was
    typed (as the Households search finds it: "Adams"). Several are refused, naming them."""
    visible = households_visible_to(user)
    pk = visible.filter(external_id=value).values_list("pk", flat=True).first()
    if pk is not None:
        return pk
    typed = " ".join(value.split())
    named = list(visible.filter(name__iexact=typed).order_by("external_id").values_list("pk", "external_id")[:6])
    if len(named) == 1:
        return named[0][0]
    if named:
        raise ValidationFailed(f"{len(named) if len(named) < 6 else 'Several'} households you may see are named "
                               f"“{value[:64]}” ({', '.join(e for _, e in named[:5])}): type the ID of the one meant. "
                               "No run was started.", detail={"field": "household"})
    named = list(visible.filter(Q(name__icontains=typed) | Q(external_id__icontains=typed))
                 .order_by("name", "external_id").values_list("pk", "name", "external_id")[:6]) if typed else []
    if len(named) == 1:
        return named[0][0]
    if named:
        listed = "; ".join(f"{name} ({external_id})" for _, name, external_id in named[:5])
        raise ValidationFailed(f"{len(named) if len(named) < 6 else 'More than five'} households you may see match "
                               f"“{value[:64]}”: {listed}{' and more' if len(named) > 5 else ''}. Type the ID of the "
                               "one meant. No run was started.", detail={"field": "household"})
    raise ValidationFailed(f"No household with the ID or name “{value[:64]}” among those you may see. No run was "
                           "started.", detail={"field": "household"})


def scope_from_form(post, user=None) -> RunScope:
    """The run's scope from the start form: the whole firm, or a model, template, advisor, household,
    typed account numbers, drift. A scope whose choice is left empty, or a part chosen under "the
    whole firm", is refused naming the field: either ran the whole firm where one part was meant."""
    what = post.get("scope", "firm")
    if what not in SCOPE_CHOICES:
        raise ValidationFailed("Choose which accounts the run is for.", detail={"field": "scope"})
    try:
        drift = decimal_param(post, "min_drift", what="drift threshold", unit=PERCENT)
    except BadRequest as exc:  # typed in the form: said above it, not on an error page
        raise ValidationFailed(str(exc), detail={"field": "min_drift"}) from None
    if drift is not None and not 0 <= drift <= 1000:  # the API's bounds (0 to 10 as a fraction)
        raise ValidationFailed(f"The drift threshold must be from 0 to 1000%, not {drift}%.",
                               detail={"field": "min_drift"})
    drift = float(drift) / 100 if drift is not None else None
    replace = post.get("replace_approved") == "yes"
    chosen = {field: post.get(field, "").strip() for field in FIELD_WORDS}
    if what == "firm":
        stray = next((field for field, value in chosen.items() if value), None)
        if stray:
            words = FIELD_WORDS[stray]
            article = "Account numbers are" if stray == "accounts" else f"{a_or_an(words).capitalize()} is"
            raise ValidationFailed(f"{article} chosen but the run is for the whole firm: choose "
                                   f"“{SCOPE_WORDS[stray]}” under Accounts, or clear the {words}.",
                                   detail={"field": stray})
        return RunScope(min_drift=drift, replace_approved=replace) if drift is not None \
            else RunScope(firm=True, replace_approved=replace)
    field = SCOPE_CHOICES[what]
    if not chosen[field]:
        if field == "accounts":
            return RunScope(account_ids=_accounts_named("", user))  # refused, saying how to type them
        raise ValidationFailed(f"Choose the {field} whose accounts the run is for.", detail={"field": field})
    if what == "model":
        return RunScope(model_code=chosen["model"], min_drift=drift, replace_approved=replace)
    if what == "template":
        return RunScope(template_code=chosen["template"], min_drift=drift, replace_approved=replace)
    if what == "household":
        return RunScope(household_id=_household_named(chosen["household"], user), min_drift=drift,
                        replace_approved=replace)
    if what == "accounts":
        return RunScope(account_ids=_accounts_named(chosen["accounts"], user), min_drift=drift,
                        replace_approved=replace)
    return RunScope(advisor_id=id_param(post, "advisor"), min_drift=drift, replace_approved=replace)


def scope_names(scopes) -> dict[str, dict]:
    """The names of the models, templates, households and advisors ``scopes`` (runs' scopes) name,
    by their code or id, for ``describe_scope`` (one query each, for a page of runs)."""
    scopes = [s for s in scopes if s]
    wanted = {key: {s[key] for s in scopes if s.get(key) is not None}
              for key in ("model_code", "template_code", "household_id", "advisor_id")}
    names: dict[str, dict] = {key: {} for key in wanted}
    if wanted["model_code"]:
        names["model_code"] = dict(ModelPortfolio.objects.filter(code__in=wanted["model_code"])
                                   .values_list("code", "name"))
    if wanted["template_code"]:
        names["template_code"] = dict(ParameterTemplate.objects.filter(code__in=wanted["template_code"])
                                      .values_list("code", "name"))
    if wanted["household_id"]:
        names["household_id"] = dict(Household.objects.filter(pk__in=wanted["household_id"]).values_list("pk", "name"))
    if wanted["advisor_id"]:
        names["advisor_id"] = {u.pk: u.get_full_name() or u.get_username()
                               for u in get_user_model().objects.filter(pk__in=wanted["advisor_id"])}
    return names


def describe_scope(scope: dict, names: dict[str, dict] | None = None) -> str:
    """The run's scope in words; with ``names`` (``scope_names``) a model, template, household or
    advisor by its name ("model Conservative 30/70 (conservative-30-70)"), else by its code or id."""
    if not scope or scope.get("firm"):
        return "whole firm" + ("; replacing approved proposals" if (scope or {}).get("replace_approved") else "")
    parts = []
    if scope.get("account_ids"):
        n = len(scope["account_ids"])
        parts.append(f"{n} account{'s' if n != 1 else ''}")
    for key, label in (("household_id", "household"), ("model_code", "model"), ("template_code", "template"),
                       ("advisor_id", "advisor")):
        if scope.get(key) is not None:
            value = scope[key]
            name = (names or {}).get(key, {}).get(value)
            if name and key.endswith("_code") and name != value:
                parts.append(f"{label} {name} ({value})")  # the code too: it is what the API and CSVs use
            else:
                parts.append(f"{label} {name or value}")
    if scope.get("min_drift") is not None:
        parts.append(f"drift ≥ {scope['min_drift']:.1%}")
    text = ", ".join(parts) or "whole firm"
    return text + ("; replacing approved proposals" if scope.get("replace_approved") else "")


def scope_refusal_in_words(message: str, scope: RunScope | None) -> str:
    """A refused scope's message with its criteria as the form offers them: the service names them
    as the API takes them ("no managed account matches model_code=h3-test together"), which the
    page says "no managed account matches model H3 test model (h3-test)"."""
    data = {k: v for k, v in (scope.to_dict() if scope else {}).items() if k not in ("firm", "replace_approved")}
    names = scope_names([data])
    for key, value in data.items():
        words = describe_scope({key: value}, names)
        message = (message.replace(f"{key}={value}", words).replace(f"{key} {value!r}", words)
                   .replace(f"{key} {value}", words))
    if len(data) == 1:
        message = message.replace(" together (", " (")  # one criterion: nothing to be together with
    return message


@firm_page(Capability.VIEW_BOOK, post=Capability.RUN_REBALANCE)
def run_list(request):
    if request.method == "POST":
        scope = None
        try:
            scope = scope_from_form(request.POST, request.user)
            run = run_start(scope=scope, user=request.user)
        except DomainError as exc:
            messages.error(request, scope_refusal_in_words(exc.message, scope))
            keep_posted(request, "run", exc)  # the form comes back as it was chosen, to correct it
            return redirect("run_list")
        if run.total == 0:
            messages.warning(request, "No account matches that scope (accounts with an approved proposal not yet "
                                      "released are left out unless you replace them), so the run had nothing to do.")
        else:
            messages.success(request, f"Run {run.pk} started over {run.total} account{pluralize(run.total)}.")
        return redirect("run_detail", pk=run.pk)
    page = paginate(request, runs_visible_to(request.user).select_related("started_by").order_by("-created_at", "-id"))
    shown = {run.pk: run_scope_shown_to(request.user, run.scope) for run in page}
    names = scope_names(shown.values())
    counts = run_counts_shown_to(request.user, page)  # an advisor's: their own accounts'
    for run in page:
        run.scope_text = describe_scope(shown[run.pk], names)
        run.counts = counts[run.pk]
    runs_started_by_words(page)  # a provider operator's run by the operator's name, as the console says it
    households = list(households_visible_to(request.user).order_by("name", "external_id")
                      .only("external_id", "name")[:HOUSEHOLD_CHOICES_MAX + 1])
    return render(request, "frontend/run_list.html", {
        "page": page, "can_start": user_can(request.user, Capability.RUN_REBALANCE),
        "models": book_wide_visible_to(request.user, ModelPortfolio.objects.order_by("name")),
        "templates": book_wide_visible_to(request.user, ParameterTemplate.objects.order_by("name")),
        "advisors": get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("first_name", "username"),
        "approved_unreleased": accounts_approved_unreleased(RunScope(firm=True)), "posted": posted_kept(request, "run"),
        # A person's choice (an instruction, an edit) a run over its account supersedes: named before it starts.
        "chosen_pending": proposals_chosen_pending(request.user) if user_can(request.user, Capability.RUN_REBALANCE)
        else [],
        "scope_choices": [("firm", "The whole firm"), *SCOPE_WORDS.items()],
        "households": households if len(households) <= HOUSEHOLD_CHOICES_MAX else None,
    })


def run_summary(run: RebalanceRun, user) -> dict:
    """What the run produced, counted over the accounts the user may see."""
    visible = accounts_visible_to(user)
    outcomes = dict(RunOutcome.objects.filter(run=run, account__in=visible).values("outcome")
                    .annotate(n=Count("id")).values_list("outcome", "n"))
    proposals = proposals_visible_to(user).filter(run=run)
    totals = proposals.aggregate(tax=Sum("estimated_tax"), harvested=Sum("harvested_losses"), trades=Sum("trade_count"))
    return {
        "proposed": outcomes.get(RunOutcome.Outcome.PROPOSED, 0),
        "no_trades": outcomes.get(RunOutcome.Outcome.NO_TRADES, 0),
        "failed": outcomes.get(RunOutcome.Outcome.FAILED, 0),
        **run_proposal_counts(proposals),  # the same buckets as the provider's page (frontend.selectors)
        "tax": totals["tax"] or 0, "harvested": totals["harvested"] or 0, "trades": totals["trades"] or 0,
    }


def _run_context(request, run: RebalanceRun) -> dict:
    finished = run.status in FINISHED
    elapsed = None
    if run.started_at:
        end = run.finished_at or timezone.now()
        elapsed = (end - run.started_at).total_seconds()
    return {"run": run, "finished": finished, "percent": round(run.progress * 100), "elapsed": elapsed,
            "counts": run_counts_shown_to(request.user, [run])[run.pk],  # an advisor's: their own accounts'
            # The results' counts lead to the queues, narrowed to this run's proposals.
            "may_decide": user_can(request.user, Capability.APPROVE)
            or user_can(request.user, Capability.APPROVE_COMPLIANCE),
            "stall": RunWatch.objects.filter(run=run).first(),
            "summary": run_summary(run, request.user) if finished or run.done else None,
            "scope_text": _scope_text(request, run)}


def _scope_text(request, run: RebalanceRun) -> str:
    shown = run_scope_shown_to(request.user, run.scope)
    return describe_scope(shown, scope_names([shown]))


@firm_page(Capability.VIEW_BOOK)
def run_detail(request, pk: int):
    run = visible_or_404(runs_visible_to(request.user).select_related("started_by"), pk=pk)
    runs_started_by_words([run])
    context = _run_context(request, run)
    if is_htmx(request):
        return run_progress_polled(request, context)
    failures = (RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED,
                                          account__in=accounts_visible_to(request.user))
                .select_related("account").order_by("account__custodian_number"))
    # Accounts the run left as they are for a reason (a withdrawal's sales waiting, orders still open).
    held = (RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.NO_TRADES,
                                      account__in=accounts_visible_to(request.user)).exclude(code="")
            .select_related("account").order_by("account__custodian_number")[:100])
    context.update({"failures": paginate(request, failures), "held": held, "failed_count": failures.count(),
                    "superseded_chosen": run_superseded_chosen(run, request.user),
                    "retried_in": run_retried_in(run),
                    "can_cancel": user_can(request.user, Capability.RUN_REBALANCE)})
    return render(request, "frontend/run_detail.html", context)


def run_progress_polled(request, context: dict):
    """The progress card a running run's page polls. The poll that sees the run finished has the page
    reload (htmx's ``HX-Refresh``): its failed accounts, their "run again" button and the end of
    "Cancel the run" are outside the card, and stayed as the page was loaded until a reload."""
    response = render(request, "frontend/partials/run_progress.html", context)
    if context["finished"]:
        response["HX-Refresh"] = "true"
    return response


@firm_page(Capability.RUN_REBALANCE)
@require_POST
def run_retry_failed(request, pk: int):
    """Rebalance again, in a run of their own, the accounts this finished run failed (those the
    user sees), once the cause is fixed: no need to re-run the whole firm."""
    run = visible_or_404(runs_visible_to(request.user), pk=pk)
    try:
        # As of the run's own day: the accounts are solved on the prices and lots of the run whose
        # failures this repairs, not today's.
        retry = failed_accounts_retry(run=run, accounts=accounts_visible_to(request.user), user=request.user,
                                      label=f"{request.user.get_username()} (failed accounts of run {run.pk})")
    except DomainError as exc:
        messages.error(request, f"{exc.message} No run was started.")
        return redirect("run_detail", pk=pk)
    messages.success(request, f"Run {retry.pk} started over the {retry.total} account{'s' if retry.total != 1 else ''} "
                              f"that failed in run {run.pk}, as of {retry.as_of:%Y-%m-%d} (run {run.pk}'s day).")
    return redirect("run_detail", pk=retry.pk)


@firm_page(Capability.RUN_REBALANCE)
@require_POST
def run_cancel_view(request, pk: int):
    run = visible_or_404(runs_visible_to(request.user), pk=pk)
    try:
        run_cancel(run=run, user=request.user)
        messages.success(request, f"Run {run.pk} cancelled; what it already proposed stays.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("run_detail", pk=pk)
