"""The provider console (public host): firms and their health, onboarding a firm (provider admins),
runs across firms, and starting a run in a firm (provider operators). Each firm is read inside its
own schema."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from frontend.selectors import provider_staff_names, run_proposal_counts, run_started_by_words
from rebalancing.engine_inputs import book_day_check, latest_book_day
from rebalancing.firm_health import QUEUED_TOO_LONG, firm_health
from rebalancing.models import Account, Proposal, RebalanceRun, RunOutcome, RunWatch
from rebalancing.selectors import RunScope, accounts_for_scope
from rebalancing.services.run_retries import failed_accounts_retry, run_retried_in
from rebalancing.services.runs import firm_without_accounts, run_start, runs_start_all_firms
from tenants.errors import DomainError, NotFound
from tenants.models import Firm, FirmUsage
from tenants.people import PROVIDER_STAFF, people_here
from tenants.roles import ProviderRole
from tenants.selectors import firm_by_slug, firm_list_for_console, user_roles
from tenants.services import firm_create, firm_status_set, first_admin_invite

from ..query import date_param
from .common import STAFF, keep_posted, posted_kept, provider_page, redirect_back
from .people import people_post, person_rows, refused_form
from .runs import FINISHED, describe_scope, run_progress_polled, scope_names

ALL_FIRMS = "*"  # the firm choice meaning every active firm
FAILURES_SHOWN = 100  # the run's failed accounts listed on its page (all are run again)


def _may_run(request) -> bool:
    return request.user.is_superuser or ProviderRole.PROVIDER_OPERATOR in user_roles(request.user, ProviderRole)


def _may_onboard(request) -> bool:
    return request.user.is_superuser or ProviderRole.PROVIDER_ADMIN in user_roles(request.user, ProviderRole)


@provider_page(STAFF)
def provider_console(request):
    firms = [firm_health(f) for f in firm_list_for_console()]
    # Each firm's latest usage snapshot (people, active), what the provider bills by; nightly.
    usage = {u.firm_id: u for u in FirmUsage.objects.order_by("firm_id", "-taken_at").distinct("firm_id")}
    for h in firms:
        h.usage = usage.get(h.firm.pk)
        # A refused suspension: its form again, open, with what was typed (``provider_firm_status``).
        h.posted = posted_kept(request, f"firm_status:{h.firm.slug}")
        if h.latest_run is not None:  # "3 accounts", "household Hiroshi Price": the latest run may be of part of the book
            with schema_context(h.firm.schema_name):
                h.latest_run.scope_text = describe_scope(h.latest_run.scope, scope_names([h.latest_run.scope]))
    return render(request, "frontend/provider_console.html", {"roles": user_roles(request.user, ProviderRole),
                                                              "firms": firms, "may_run": _may_run(request),
                                                              "may_onboard": _may_onboard(request)})


ONBOARD_FIELDS = ("name", "slug", "admin_first_name", "admin_last_name", "admin_email", "domain")


@provider_page(ProviderRole.PROVIDER_ADMIN)
def provider_firm_create(request):
    """Onboard a firm (``firm_create``: its schema, its host, its first admin) and e-mail that admin
    a one-time link to choose a password. A refusal answers 400 with what was typed and the
    service's message naming the field; nothing is written."""
    posted = {f: request.POST.get(f, "").strip() for f in ONBOARD_FIELDS} if request.method == "POST" else {}
    refusal = None
    if request.method == "POST":
        try:
            result = firm_create(name=posted["name"], slug=posted["slug"], admin_email=posted["admin_email"],
                                 domain=posted["domain"] or None, admin_first_name=posted["admin_first_name"],
                                 admin_last_name=posted["admin_last_name"], actor=request.user)
        except DomainError as exc:
            refusal = exc
        else:
            firm = result.firm
            if not result.created:
                messages.info(request, f"{firm.name} is already onboarded at {firm.primary_domain}; nothing changed.")
            else:
                first_admin_invite(firm=firm, actor=request.user)
                messages.success(request, f"{firm.name} is onboarded at {firm.primary_domain} (schema "
                                          f"{firm.schema_name}). Its admin {result.admin_username} has been e-mailed "
                                          "a link to choose a password.")
            return redirect("provider_firm", slug=firm.slug)
    context = {"posted": posted, "refusal": refusal,
               "refused_field": (refusal.detail or {}).get("field") if refusal else None,
               "base_domain": settings.BASE_DOMAIN}
    return render(request, "frontend/provider_firm_create.html", context, status=400 if refusal else 200)


@provider_page(ProviderRole.PROVIDER_ADMIN)
@require_POST
def provider_firm_status(request, slug: str):
    """Suspend a firm (with the reason its people will read) or make it active again."""
    firm = _firm(slug)
    status = request.POST.get("status", "")
    try:
        changed = firm_status_set(firm=firm, status=status, reason=request.POST.get("reason", ""),
                                  actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        keep_posted(request, f"firm_status:{firm.slug}", exc)  # the console opens this firm's form as it was sent
        return redirect_back(request, "home")
    if not changed:
        messages.info(request, f"{firm.name} is already {Firm.Status(status).label.lower()}; nothing changed.")
    elif status == Firm.Status.SUSPENDED:
        messages.success(request, f"{firm.name} is suspended: no run starts in it (nightly scan, provider, its own "
                                  "people, the API) and no instruction, proposal edit, withdrawal or release goes through until "
                                  "it is reactivated. Its people can still sign in and read.")
    else:
        messages.success(request, f"{firm.name} is active again: its nightly scan and runs start as before.")
    return redirect_back(request, "home")


STAFF_ROLE_HELP = {
    ProviderRole.PROVIDER_ADMIN: "onboards, suspends and reactivates firms; the provider's staff and sign-in security",
    ProviderRole.PROVIDER_OPERATOR: "starts and watches runs in every firm, sees each firm's health",
}


@provider_page(ProviderRole.PROVIDER_ADMIN)
def provider_staff(request):
    """The provider's own people (provider admins): invite, set roles, deactivate, reactivate -
    the firm's people page's rules (``tenants.people``) over the provider's roles."""
    done = people_post(request, PROVIDER_STAFF, "provider_staff") if request.method == "POST" else (200, "")
    if not isinstance(done, tuple):
        return done
    status, refusal = done
    page, rows = person_rows(request, people_here().order_by("-is_active", "first_name", "username"))
    return render(request, "frontend/provider_staff.html", {
        "page": page, "rows": rows, "roles": [(r, r.label, STAFF_ROLE_HELP[r]) for r in ProviderRole],
        "refusal": refusal, **refused_form(request, status)}, status=status)


@provider_page(STAFF)
def provider_runs(request):
    firms = firm_list_for_console()
    staff = provider_staff_names()
    may_run = _may_run(request)
    runs, active, accounts, sitting_out, empty = [], [], 0, 0, []
    queued_since = timezone.now() - QUEUED_TOO_LONG
    # "Only runs with failed accounts": the runs to look at, each firm's latest ten of them (a run
    # that failed as a whole too, which may have no account's failure recorded).
    only_failed = request.GET.get("failed") == "yes"
    for firm in firms:
        with schema_context(firm.schema_name):
            firm_runs = RebalanceRun.objects.select_related("started_by", "watch").order_by("-created_at", "-id")
            if only_failed:
                firm_runs = firm_runs.filter(Q(failed__gt=0) | Q(status=RebalanceRun.Status.FAILED))
            firm_runs = list(firm_runs[:10])
            names = scope_names([run.scope for run in firm_runs])  # "household Hiroshi Price", as the firm's page says
            for run in firm_runs:
                run.firm = firm
                run.started_by_words = run_started_by_words(run, staff)
                run.scope_text = describe_scope(run.scope, names)
                run.stall = getattr(run, "watch", None)
                run.queued_long = run.status == RebalanceRun.Status.QUEUED and run.created_at < queued_since
                runs.append(run)
            if firm.status == Firm.Status.ACTIVE:
                # Named with its host in the firm menu: two firms may read alike by name alone.
                firm.host = next((d.domain for d in firm.domains.all() if d.is_primary), firm.slug)
                active.append(firm)
                if may_run:  # what "every active firm" would run, and leave out, said before the operator confirms
                    covered = accounts_for_scope(RunScope(firm=True))
                    accounts += covered.count()
                    sitting_out += sum(_left_out(covered)[:2])
                    if firm_without_accounts():
                        empty.append(firm.name)
    runs.sort(key=lambda r: r.created_at, reverse=True)
    return render(request, "frontend/provider_runs.html", {
        "all_firms": ALL_FIRMS, "runs": runs[:50], "firms": active, "may_run": may_run, "all_accounts": accounts,
        "sitting_out": sitting_out, "empty_firms": empty, "latest_day": latest_book_day(), "only_failed": only_failed,
    })


def _firm(slug: str) -> Firm:
    try:
        return firm_by_slug(slug)
    except NotFound:
        raise Http404("No such firm.") from None


def _well_written_day(typed: str) -> date | None:
    try:
        return date.fromisoformat(typed) if len(typed) == 10 else None
    except ValueError:
        return None


@provider_page(STAFF, post=ProviderRole.PROVIDER_OPERATOR)
@require_POST
def provider_run_start(request):
    """A whole-firm run in one firm, or in every active firm, as of today or an earlier day the
    operator chooses (``run_start`` refuses a day the book cannot be computed on, and says why)."""
    try:
        as_of = date_param(request.POST, "as_of", what="run's day")
    except BadRequest:
        typed = request.POST.get("as_of", "").strip()[:40]
        said = f"The run's day “{typed}” is not a day: write it YYYY-MM-DD."
        if (day := _well_written_day(typed)) is not None:  # a day, but before 1900: the book's range says so
            try:
                book_day_check(day, what="run's day")
            except DomainError as exc:
                said = exc.message
        messages.error(request, f"{said} No run was started.")
        return redirect_back(request, "provider_runs")
    if request.POST.get("firm") == ALL_FIRMS:
        if as_of is not None:  # every firm's run is refused alike for a day the book cannot be computed on
            try:
                book_day_check(as_of, what="run's day")
            except DomainError as exc:
                messages.error(request, f"{exc.message} No run was started.")
                return redirect("provider_runs")
        started = runs_start_all_firms(label=f"{request.user.get_username()} (provider, all firms)", as_of=as_of)
        ok = [s for s in started if s.run_id is not None]
        left_out, empty = {}, set()
        for s in ok:
            with schema_context(firm_by_slug(s.firm_slug).schema_name):
                left_out[s.run_id] = _left_out(accounts_for_scope(RunScope(firm=True)))
                if firm_without_accounts():
                    empty.add(s.run_id)
        messages.success(request, _every_firm_started_words(ok, left_out, empty, as_of))
        for refused in (s for s in started if s.run_id is None):
            messages.error(request, f"{refused.firm_name}: {refused.error}")
        return redirect("provider_runs")
    firm = _firm(request.POST.get("firm", ""))
    if firm.status != Firm.Status.ACTIVE:
        messages.error(request, f"{firm.name} is suspended; its accounts are not rebalanced.")
        return redirect_back(request, "provider_runs")
    with schema_context(firm.schema_name):
        empty = firm_without_accounts()
        if empty:
            messages.error(request, f"{firm.name}: {empty}")
            return redirect_back(request, "provider_runs")
        try:
            run = run_start(scope=RunScope(firm=True), as_of=as_of, label=f"{request.user.get_username()} (provider)")
        except DomainError as exc:
            messages.error(request, f"{exc.message} No run was started.")
            return redirect_back(request, "provider_runs")
        # The accounts the run covers, as ``run_start`` chose them a moment ago: the others, by reason.
        left_out = _left_out_words(accounts_for_scope(RunScope(firm=True)))
    day = f" as of {run.as_of:%Y-%m-%d}" if as_of is not None else ""
    messages.success(request, f"Run {run.pk} started in {firm.name}{day} over {run.total} account{pluralize(run.total)}."
                     + (f" Not run: {'; '.join(left_out)}." if left_out else ""))
    return redirect("provider_run_detail", slug=firm.slug, pk=run.pk)


def _run(pk: int) -> RebalanceRun:
    """The run ``pk`` of the firm whose schema is active, or a 404."""
    run = RebalanceRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404("No such run.")
    return run


@provider_page(STAFF)
def provider_run_detail(request, slug: str, pk: int):
    firm = _firm(slug)
    staff = provider_staff_names()  # provider staff live in the public schema: read before entering the firm's
    with schema_context(firm.schema_name):
        run = _run(pk)
        run.started_by_words = run_started_by_words(run, staff)
        finished = run.status in FINISHED
        summary = _firm_summary(run) if finished or run.done else None
        stall = RunWatch.objects.filter(run=run).first()
        failures = list(RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED)
                        .select_related("account").order_by("account__custodian_number")[:FAILURES_SHOWN])
        failed_count = RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED).count()
        # A missing price is the firm's to import: running those accounts again changes nothing until it does.
        unpriced = list(RunOutcome.objects.filter(run=run, outcome=RunOutcome.Outcome.FAILED, code="missing_price")
                        .values_list("detail__symbol", flat=True))
        # A whole-firm run, once finished, covered the accounts it recorded an outcome for.
        left_out = _left_out_words(RunOutcome.objects.filter(run=run).values("account_id")) \
            if finished and (run.scope or {}).get("firm") else []
        accounts = Account.objects.count() if left_out else 0
        scope_text = describe_scope(run.scope, scope_names([run.scope]))
        retried_in = run_retried_in(run)
    elapsed = ((run.finished_at or timezone.now()) - run.started_at).total_seconds() if run.started_at else None
    context = {"run": run, "firm": None, "run_firm": firm, "finished": finished, "percent": round(run.progress * 100),
               "summary": summary, "elapsed": elapsed, "scope_text": scope_text, "stall": stall,
               "failures": failures, "failed_count": failed_count, "may_run": _may_run(request),
               "left_out": left_out, "firm_accounts": accounts, "retried_in": retried_in,
               "unpriced_count": len(unpriced), "unpriced_symbols": sorted(set(filter(None, unpriced)))}
    if request.headers.get("HX-Request") == "true":
        return run_progress_polled(request, context)
    return render(request, "frontend/provider_run_detail.html", context)


@provider_page(STAFF, post=ProviderRole.PROVIDER_OPERATOR)
@require_POST
def provider_run_retry(request, slug: str, pk: int):
    """Rebalance again, in a run of their own, the accounts a finished run of a firm failed."""
    firm = _firm(slug)
    with schema_context(firm.schema_name):
        run = _run(pk)
        try:
            # As of the run's own day, as the firm's page does (``runs.run_retry_failed``).
            retry = failed_accounts_retry(
                run=run, label=f"{request.user.get_username()} (provider, failed accounts of run {run.pk})")
        except DomainError as exc:
            messages.error(request, f"{exc.message} No run was started.")
            return redirect("provider_run_detail", slug=slug, pk=pk)
    messages.success(request, f"Run {retry.pk} started in {firm.name} over the {retry.total} "
                              f"account{'s' if retry.total != 1 else ''} that failed in run {run.pk}, "
                              f"as of {retry.as_of:%Y-%m-%d} (run {run.pk}'s day).")
    return redirect("provider_run_detail", slug=slug, pk=retry.pk)


def _left_out(covered) -> tuple[int, int, int]:
    """How many of the firm's accounts outside ``covered`` (account ids, or a query of them) a
    whole-firm run did not take, by reason: no model (``Account.objects.managed``, the rule a run
    selects by), an approved proposal not yet released whose approval stands (what
    ``accounts_for_scope`` leaves out unless told to replace it), and any other (not reached before
    the run stopped, or new to the run's selection since). Read in the firm's schema, as it stands now."""
    rest = Account.objects.exclude(pk__in=covered)
    no_model = rest.exclude(pk__in=Account.objects.managed().values("pk")).count()
    kept = rest.filter(pk__in=Account.objects.managed().values("pk")) \
        .exclude(pk__in=accounts_for_scope(RunScope(firm=True))).count()
    return no_model, kept, rest.count() - no_model - kept


NO_MODEL_WHY = ("(a run rebalances an account to its own model or, in a household managed as one, to the "
                "household's): the firm assigns one on its Accounts page (“Assign a template or model”)")
KEPT_WHY = "approval stands until the firm releases it or a run replaces it"


def _left_out_words(covered) -> list[str]:
    """Why the firm's accounts outside ``covered`` are not in a whole-firm run, one phrase per reason
    with its count (``_left_out``)."""
    no_model, kept, other = _left_out(covered)
    words = []
    if no_model:
        words.append(f"{no_model} account{pluralize(no_model)} {'has' if no_model == 1 else 'have'} no model "
                     f"{NO_MODEL_WHY}")
    if kept:
        words.append(f"{kept} account{pluralize(kept)} {'has' if kept == 1 else 'have'} an approved proposal not yet "
                     "released (or {} in a household managed as one that has), whose {}".format("is" if kept == 1 else "are",
                                                                                        KEPT_WHY))
    if other:
        words.append(f"{other} other{pluralize(other)} not reached before the run stopped, or new to the run's "
                     "selection since it ran")
    return words


def _every_firm_started_words(started_ok, left_out: dict[int, tuple[int, int, int]], empty: set[int] = frozenset(),
                              as_of=None) -> str:
    """The message after runs in every firm: per firm its run and the accounts it left out, by count
    and in a few words; then the firms that have no account at all, whose runs are empty (a
    scheduled run over an empty book is one too); why each reason keeps accounts out is said once,
    after the firms."""
    firms = []
    with_book = [s for s in started_ok if s.run_id not in empty]
    for s in with_book:
        no_model, kept, other = left_out[s.run_id]
        out = [f"{no_model} without a model" if no_model else "",
               f"{kept} with an approved proposal not yet released" if kept else "",
               f"{other} not reached" if other else ""]
        out = [w for w in out if w]
        firms.append(f"{s.firm_name} (run {s.run_id}, {s.accounts} account{pluralize(s.accounts)}"
                     + (f"; not run: {', '.join(out)}" if out else "") + ")")
    day = f" as of {as_of:%Y-%m-%d}" if as_of is not None else ""
    text = f"Runs started in {len(started_ok)} firm{pluralize(len(started_ok))}{day}"
    nothing = [f"{s.firm_name} (run {s.run_id})" for s in started_ok if s.run_id in empty]
    if not nothing:
        text += ": " + ", ".join(firms) + "."
    else:
        text += (f", {len(firms)} with accounts" + (": " + ", ".join(firms) if firms else "")
                 + f"; {len(nothing)} {'has' if len(nothing) == 1 else 'have'} no account yet, so "
                 + f"{'its run is' if len(nothing) == 1 else 'their runs are'} empty: " + ", ".join(nothing) + ".")
    if any(c[0] for c in left_out.values()):
        text += f" An account without a model is not run {NO_MODEL_WHY}."
    if any(c[1] for c in left_out.values()):
        text += (" An account with an approved proposal not yet released (or in a household managed as one that "
                 f"has) is not run: its {KEPT_WHY}.")
    return text


def _firm_summary(run: RebalanceRun) -> dict:
    """The run's results over every account of the firm (provider staff are not the firm's users)."""
    outcomes = dict(RunOutcome.objects.filter(run=run).values("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    proposals = Proposal.objects.filter(run=run)
    totals = proposals.aggregate(tax=Sum("estimated_tax"), harvested=Sum("harvested_losses"), trades=Sum("trade_count"))
    return {
        "proposed": outcomes.get("proposed", 0), "no_trades": outcomes.get("no_trades", 0),
        "failed": outcomes.get("failed", 0), **run_proposal_counts(proposals), "tax": totals["tax"] or 0,
        "harvested": totals["harvested"] or 0, "trades": totals["trades"] or 0,
    }

