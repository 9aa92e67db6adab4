"""The trading ledger's pages: orders out, executions in, an account's lots and realised lots,
reconciliations, and the tax reports (realised gains, harvest, transition).

Every query starts from ``accounts_visible_to``; every change goes through the ledger's services
(``executions_import``, ``reconciliation_import/accept/reject``) and every figure and CSV file
comes from ``rebalancing.ledger`` (docs/ledger.md). Views never write models.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from frontend.query import choice_param, id_param
from rebalancing.access import accounts_visible_to, households_visible_to
from rebalancing.api.visibility import reconciliations_visible_to
from rebalancing.exports import csv_download
from rebalancing.imports import ImportRejected
from rebalancing.ledger import reports
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.orders import blocks_csv, orders_by_block, orders_csv, orders_open
from rebalancing.ledger.reconciliation import (
    open_orders_on_changed_lots,
    reconciliation_accept,
    reconciliation_import,
    reconciliation_reject,
)
from rebalancing.models import (
    Execution,
    Order,
    ReconciliationAccount,
)
from tenants.errors import DomainError
from tenants.permissions import Capability, user_can

from .common import firm_page, paginate, visible_or_404

ZERO = Decimal(0)


def _csv_response(request, text: str, name: str, what: str) -> HttpResponse:
    """The file, through the one audited download (rebalancing.exports); the page's filters are recorded."""
    filters = {k: v for k, v in request.GET.items() if k not in ("download", "page")}
    return csv_download(user=request.user, text=text, filename=name, what=what, filters=filters)


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _problems(exc: ImportRejected) -> dict:
    detail = exc.detail or {}
    return {"message": exc.message, "problems": detail.get("problems", []), "total": detail.get("total"),
            "shown": detail.get("shown")}


# --- Orders --------------------------------------------------------------------------------------

ORDER_STATUSES = {"open": (Order.Status.OPEN, Order.Status.PARTIALLY_FILLED), "filled": (Order.Status.FILLED,),
                  "cancelled": (Order.Status.CANCELLED,)}


@firm_page(Capability.VIEW_BOOK)
def orders_page(request):
    """Released orders of the accounts the user sees, by account or by block."""
    get = request.GET
    orders = Order.objects.filter(account__in=accounts_visible_to(request.user))
    download = get.get("download")
    if download in ("orders", "blocks"):
        open_orders = list(orders_open(orders))
        return _csv_response(request, blocks_csv(open_orders) if download == "blocks" else orders_csv(open_orders),
                             f"{download}.csv", f"orders.{download}")
    status = choice_param(get, "status", ORDER_STATUSES)
    if status:
        orders = orders.filter(status__in=ORDER_STATUSES[status])
    q = get.get("q", "").strip()
    if q:
        orders = orders.filter(Q(account__custodian_number__icontains=q) | Q(security__symbol__iexact=q)
                               | Q(order_id__iexact=q) | Q(block_id__iexact=q))
    orders = orders.select_related("account__household", "security").annotate(fills=Count("executions"))
    view = "block" if get.get("view") == "block" else "account"
    context = {"view": view, "status": status, "filtered": bool(status or q),
               "total": Order.objects.filter(account__in=accounts_visible_to(request.user)).count()}
    if view == "block":
        context["page"] = paginate(request, orders_by_block(orders, newest_first=True), per_page=20)
    else:
        context["page"] = paginate(request, orders.order_by("account__custodian_number", "-created_at", "order_id"),
                                   per_page=50)
    return render(request, "frontend/ledger/orders.html", context)


# --- Executions ----------------------------------------------------------------------------------

def _upload_with_date(request, *, missing: str, what_date: str):
    """The uploaded file and the optional date of an upload form, or the problem in plain words."""
    upload = request.FILES.get("file")
    as_of_text = request.POST.get("as_of", "").strip()
    as_of = _day(as_of_text)
    if upload is None:
        return None, None, missing
    if as_of_text and as_of is None:
        return None, None, f"{what_date} is not a date (YYYY-MM-DD)."
    return upload, as_of, None


@firm_page(Capability.VIEW_BOOK, post=Capability.IMPORT_DATA)
def executions_page(request):
    """Executions applied so far; with the import capability, upload a file of fills and cancels."""
    context: dict = {"can_import": user_can(request.user, Capability.IMPORT_DATA)}
    status = 200
    if request.method == "POST":
        upload, as_of, error = _upload_with_date(request, missing="Choose a CSV file of executions to upload.",
                                                 what_date="The latest trade date")
        if error:
            context["form_error"], status = error, 400
        else:
            try:
                context["summary"] = executions_import(source=upload, actor=request.user, as_of=as_of)
                context["file_name"] = upload.name
            except ImportRejected as exc:
                context["rejected"] = _problems(exc)
                context["file_name"] = upload.name
                status = 400
            except DomainError as exc:
                context["form_error"] = exc.message
                status = 400
    executions = (Execution.objects.filter(order__account__in=accounts_visible_to(request.user))
                  .select_related("order__account", "order__security").order_by("-applied_at", "-id"))
    context["page"] = paginate(request, executions, per_page=50)
    return render(request, "frontend/ledger/executions.html", context, status=status)


# --- An account's ledger -------------------------------------------------------------------------

@firm_page(Capability.VIEW_BOOK)
def account_ledger(request, pk: int):
    """The account's lots (holding period start and purchase date, wash-sale adjustments with
    their reasons) and the lots it sold in a year."""
    account = visible_or_404(accounts_visible_to(request.user).select_related("household"), pk=pk)
    this_year = timezone.localdate().year
    asked = _report_year(request.GET)
    ledger = reports.account_ledger(account=account, year=asked)
    year = asked or (ledger.years[0] if ledger.years else this_year)
    realised_page = paginate(request, ledger.realised, per_page=25, param="realised_page")
    return render(request, "frontend/ledger/account_ledger.html", {
        "account": account, "lot_page": paginate(request, ledger.lots, per_page=25, param="lots_page"),
        "lot_count": len(ledger.lots),
        "adjustment_page": paginate(request, ledger.adjustments, per_page=25, param="adj_page"),
        "realised_page": realised_page, "year": year,
        # The page's sales as Form 8949 lines: columns (e), (f) and (g) as the realised gains report gives them.
        "realised_lines": list(zip(realised_page.object_list, reports.realised_rows(list(realised_page.object_list)),
                                   strict=True)),
        "years": sorted(set(ledger.years) | {this_year}, reverse=True), "totals": ledger.totals,
    })


# --- Reconciliations -----------------------------------------------------------------------------

@firm_page(Capability.VIEW_RECONCILIATIONS, post=Capability.IMPORT_DATA)
def reconciliations_page(request):
    """Position files compared with the ledger (read: compliance too; upload one: the import
    capability, as in the API)."""
    context: dict = {}
    status = 200
    if request.method == "POST":
        upload, as_of, error = _upload_with_date(
            request, missing="Choose the custodian's position file (the lots layout) to compare.",
            what_date="The position date")
        if error:
            context["form_error"], status = error, 400
        else:
            try:
                reconciliation = reconciliation_import(source=upload, actor=request.user, as_of=as_of,
                                                       file_name=upload.name or "")
            except ImportRejected as exc:
                context["rejected"] = _problems(exc)
                context["file_name"] = upload.name
                status = 400
            except DomainError as exc:
                context["form_error"] = exc.message
                status = 400
            else:
                messages.success(request, "Position file compared with the ledger; no lot has changed yet.")
                return redirect("ledger_reconciliation_detail", pk=reconciliation.pk)
    visible = accounts_visible_to(request.user)
    reconciliations = reconciliations_visible_to(request.user).annotate(
        n_accounts=Count("accounts", distinct=True),
    ).order_by("-created_at", "-id")
    page = paginate(request, reconciliations)
    pending = dict(ReconciliationAccount.objects.filter(
        reconciliation__in=[r.pk for r in page], account__in=visible, decision=ReconciliationAccount.Decision.PENDING,
    ).values("reconciliation").annotate(n=Count("id")).values_list("reconciliation", "n"))
    context.update({"page": page, "pending": pending})
    return render(request, "frontend/ledger/reconciliations.html", context, status=status)


@firm_page(Capability.VIEW_RECONCILIATIONS)
def reconciliation_detail(request, pk: int):
    reconciliation = visible_or_404(reconciliations_visible_to(request.user), pk=pk)
    entries = (ReconciliationAccount.objects.filter(reconciliation=reconciliation,
                                                    account__in=accounts_visible_to(request.user))
               .select_related("account__household", "decided_by").prefetch_related("rows__security")
               .order_by("decision", "account__custodian_number"))
    page = paginate(request, entries, per_page=20)
    pending = entries.filter(decision=ReconciliationAccount.Decision.PENDING)
    # Accounts whose acceptance is refused while released sales still name the lots it would change.
    open_sales = open_orders_on_changed_lots(pending)
    for entry in page:
        entry.open_sales = open_sales.get(entry.account_id, []) if entry.decision == "pending" else []
    return render(request, "frontend/ledger/reconciliation_detail.html", {
        "reconciliation": reconciliation, "page": page, "pending_count": pending.count(),
        "blocked_count": len(open_sales), "Decision": ReconciliationAccount.Decision,
    })


@firm_page(Capability.IMPORT_DATA)
@require_POST
def reconciliation_decide(request, pk: int):
    """Accept (the custodian's lots replace the ledger's) or reject, one account or all pending."""
    reconciliation = visible_or_404(reconciliations_visible_to(request.user), pk=pk)
    decision = request.POST.get("decision")
    decide = {"accept": reconciliation_accept, "reject": reconciliation_reject}.get(decision)
    if decide is None:
        messages.error(request, "Choose accept or reject.")
        return redirect("ledger_reconciliation_detail", pk=pk)
    visible = accounts_visible_to(request.user)
    account = id_param(request.POST, "account")
    if account is not None:
        account_ids = list(visible.filter(pk=account).values_list("pk", flat=True))
    else:
        account_ids = list(visible.values_list("pk", flat=True))
    try:
        done = decide(reconciliation=reconciliation, user=request.user, account_ids=account_ids,
                      comment=request.POST.get("comment", "").strip())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        what = "accepted: the custodian's lots replaced the ledger's" if decision == "accept" else \
            "rejected: the ledger's lots were kept"
        messages.success(request, f"{done} account{'s' if done != 1 else ''} {what}.")
    return redirect("ledger_reconciliation_detail", pk=pk)


# --- Tax reports ---------------------------------------------------------------------------------

def _period(request) -> dict:
    """The period picker: a year (default this one), or from/to dates that override it."""
    get = request.GET
    today = timezone.localdate()
    year = _report_year(get) or today.year
    start, end = _day(get.get("start")), _day(get.get("end"))
    error = ""
    if (get.get("start") and start is None) or (get.get("end") and end is None):
        error = "A date could not be read (YYYY-MM-DD); the whole year is shown."
        start = end = None
    if start or end:
        start, end = start or date(year, 1, 1), end or date(year, 12, 31)
        if start > end:
            error, start, end = "The period starts after it ends; the whole year is shown.", None, None
    if end:  # the year of the period's end is its Schedule D's
        try:
            reports.report_year_check(end.year)
        except DomainError as refused:
            said = refused.message.rstrip(".")
            error, start, end = f"The period ends in {end.year}: {said[:1].lower()}{said[1:]}; the whole year is shown.", None, None
    if not (start and end):
        start, end = date(year, 1, 1), date(year, 12, 31)
    # The downloads' links: of the period shown - the whole year where the one asked for was refused
    # (a download refuses a period it cannot use, ``_downloaded_period``); else as asked.
    shown = ({"start": start.isoformat(), "end": end.isoformat()} if error else
             {"start": get.get("start", ""), "end": get.get("end", "")})
    return {"year": year, "start": start, "end": end, "period_error": error, "shown_start": shown["start"],
            "shown_end": shown["end"], "years": list(range(today.year, today.year - 8, -1))}


def _report_bound(check, value):
    """``value`` if the reports' own bound (``reports.report_year_check``, ``report_day_check``)
    accepts it, the API's and the tax_report command's too; else a 400 that says it."""
    try:
        return check(value)
    except DomainError as refused:
        raise BadRequest(refused.message) from None


def _report_year(data) -> int | None:
    """The ``year`` of a report or of an account's ledger (absent or empty: None), refused as the API
    and the tax_report command refuse it (``reports.report_year_check``: the real bounds)."""
    raw = (data.get("year") or "").strip()
    return _report_bound(reports.report_year_check, raw) if raw else None


def _downloaded_period(period: dict) -> None:
    """A download is a file of the period asked for: a period that could not be used is refused by
    name, not replaced by the whole year as the page (which says so) shows it."""
    if period["period_error"]:
        raise BadRequest(period["period_error"].split(";")[0] + ".")


def _report_accounts(request):
    accounts = accounts_visible_to(request.user)
    household = request.GET.get("household", "").strip()
    if household:
        accounts = accounts.filter(household__external_id=household)
    account = request.GET.get("account", "").strip()
    if account:
        accounts = accounts.filter(custodian_number=account)
    return accounts


SCOPE_CHOICES_MAX = 200  # more households than this are found by their ID, not picked from a list


def _scope_context(request) -> dict:
    """The reports' scope: a household to pick (a search by its ID in a book too large to list)."""
    households = list(households_visible_to(request.user).order_by("name")
                      .only("external_id", "name")[:SCOPE_CHOICES_MAX + 1])
    household, account = request.GET.get("household", "").strip(), request.GET.get("account", "").strip()
    # A scope naming nothing the user can see reports nothing: say why (the field above shows what
    # was typed; the message does not repeat it, so a colleague's number appears nowhere else).
    unknown = []
    if household and not households_visible_to(request.user).filter(external_id=household).exists():
        unknown.append("no household with the ID entered")
    if account and not accounts_visible_to(request.user).filter(custodian_number=account).exists():
        unknown.append("no account with the number entered")
    return {"households": households if len(households) <= SCOPE_CHOICES_MAX else None,
            "scoped": bool(household or account),
            "scope_unknown": f"Among those you can see there is {' and '.join(unknown)}." if unknown else ""}


UNTAXED_NAMED = 5  # a scope's IRAs and Roths named on an empty realised report; more are counted


def _untaxed_in_scope(request, scoped: bool) -> tuple[str, bool]:
    """When the report is scoped to a household or an account: its IRAs and Roths in words (their
    sales are not taxed: the report, Form 8949's, leaves them out), and whether it has a taxable
    account at all - so an empty report says why, rather than that nothing was sold."""
    if not scoped:
        return "", True
    accounts = _report_accounts(request)
    untaxed = list(accounts.filter(taxable=False).order_by("custodian_number")
                   .only("custodian_number", "tax_status")[:UNTAXED_NAMED + 1])
    if not untaxed:
        return "", True
    named = [f"{a.custodian_number} is {a.tax_status_noun}" for a in untaxed[:UNTAXED_NAMED]]
    if len(untaxed) > UNTAXED_NAMED:
        more = accounts.filter(taxable=False).count() - UNTAXED_NAMED
        named.append(f"{more} more IRA{'s' if more != 1 else ''} or Roth IRA{'s' if more != 1 else ''}")
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    their = "its" if len(untaxed) == 1 else "their"
    words = f"{listed}: {their} sales are not taxed and are not reported on Form 8949."
    return words, accounts.filter(taxable=True).exists()


def _split(rows, key) -> dict:
    """Gains and losses apart (per term) beside the report's net totals, per account or household.
    Both are after the wash-sale adjustment: ``losses`` are the losses allowed (the disallowed part
    added back), so gains + losses is the net and the disallowed amount is not to be added again."""
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(key(row), {t: {"gains": ZERO, "losses": ZERO} for t in ("short", "long")})
        amount = row.gain_or_loss
        entry[row.term]["gains" if amount > 0 else "losses"] += amount
    return out


def _totals_rows(totals, split: dict) -> list[tuple]:
    """A totals table's rows: the totals, their gains and losses apart, and the part lost for good of
    both terms, summed here in Decimal (the template's ``add`` filter would add them as integers)."""
    empty = {t: {"gains": ZERO, "losses": ZERO} for t in ("short", "long")}
    return [(t, split.get(t.key, empty), t.short.lost + t.long.lost) for t in totals]


@firm_page(Capability.VIEW_BOOK)
def report_realised(request):
    period = _period(request)
    report = reports.realised_gains(accounts=_report_accounts(request), start=period["start"], end=period["end"])
    download = request.GET.get("download")
    if download:
        _downloaded_period(period)
    stamp = f"{report.start:%Y%m%d}-{report.end:%Y%m%d}"
    if download == "lots":
        return _csv_response(request, reports.realised_lots_csv(report), f"realised-lots-{stamp}.csv",
                             "report.realised_lots")
    if download == "totals":
        return _csv_response(request, reports.realised_totals_csv(report), f"realised-totals-{stamp}.csv",
                             "report.realised_totals")
    if download == "boxes":
        return _csv_response(request, reports.realised_boxes_csv(report), f"form-8949-boxes-{stamp}.csv",
                             "report.realised_boxes")
    households = households_visible_to(request.user)
    if request.GET.get("household", "").strip():
        households = households.filter(external_id=request.GET["household"].strip())
    schedules = reports.schedules_d(households=households.filter(accounts__in=_report_accounts(request)).distinct(),
                                    year=report.end.year)
    if download == "schedule-d":
        return _csv_response(request, reports.schedule_d_csv(schedules), f"schedule-d-{report.end.year}.csv",
                             "report.schedule_d")
    # A book's households are thousands: the page lists the returns with figures, 50 at a time (the
    # CSV has every return), and each totals table 50 rows at a time.
    by_return = [group for group in reports.schedules_d_by_household(schedules)
                 if any(row.has_figures for row in group[0])]
    by_account = _split(report.lots, lambda r: r.account_number)
    by_household = _split(report.lots, lambda r: r.household)
    grand = reports.GainTotals("all", "", "All accounts shown")
    for t in report.accounts:
        for part in ("short", "long"):
            mine, theirs = getattr(grand, part), getattr(t, part)
            mine.proceeds += theirs.proceeds
            mine.cost_basis += theirs.cost_basis
            mine.adjustment += theirs.adjustment
            mine.lost += theirs.lost
    scope = _scope_context(request)
    untaxed, scope_taxable = _untaxed_in_scope(request, scope["scoped"])
    return render(request, "frontend/ledger/report_realised.html", {
        **period, **scope, "report": report, "grand": grand,
        # A scope's IRAs and Roths, said by name on an empty report (their sales are not Form 8949's).
        "untaxed": untaxed, "scope_taxable": scope_taxable,
        # Gains the accounts' year-to-date figures hold but no realised lot does (sales before the
        # ledger): said per account, never silently missing from the year's figures.
        "ytd_apart": reports.year_to_date_apart(accounts=_report_accounts(request), year=report.end.year,
                                                this_year=timezone.localdate().year),
        "grand_disallowed": grand.short.adjustment + grand.long.adjustment,
        "grand_lost": grand.short.lost + grand.long.lost,
        "returns_without_figures": len(schedules) - sum(len(group[0]) for group in by_return),
        "schedules": paginate(request, by_return, per_page=50, param="returns_page"),
        # Not "households": that is the scope's list of households to choose from (_scope_context).
        "account_totals": paginate(request, _totals_rows(report.accounts, by_account), per_page=50,
                                   param="accounts_page"),
        "household_totals": paginate(request, _totals_rows(report.households, by_household), per_page=50,
                                     param="households_page"),
        "lot_page": paginate(request, report.lots, per_page=50),
        # Form 8949's boxes per return (the household's, or each spouse's filing separately) and year,
        # with the Schedule D line of each total.
        "box_totals": paginate(request, report.boxes, per_page=50, param="boxes_page"),
    })


@firm_page(Capability.VIEW_BOOK)
def report_harvest(request):
    period = _period(request)
    rows = reports.harvest(accounts=_report_accounts(request), start=period["start"], end=period["end"])
    if request.GET.get("download") == "csv":
        _downloaded_period(period)
        return _csv_response(request, reports.harvest_csv(rows),
                             f"harvest-{period['start']:%Y%m%d}-{period['end']:%Y%m%d}.csv", "report.harvest")
    months: dict[str, list[Decimal]] = {}
    for r in rows:
        if len(r.period) == 7:
            entry = months.setdefault(r.period, [ZERO, ZERO, ZERO])
            entry[0] += r.net_harvested
            entry[1] += r.disallowed
            entry[2] += r.tax_value
    labels = sorted(months)
    chart = {"kind": "bar", "unit": "", "money": True, "labels": labels, "series": [
        {"label": "Losses harvested, net of wash sales ($)", "data": [float(months[m][0]) for m in labels],
         "color": "#1f5fbf"},
        {"label": "Disallowed by wash sales ($)", "data": [float(months[m][1]) for m in labels], "color": "#c98a00"},
    ]}
    return render(request, "frontend/ledger/report_harvest.html", {
        **period, **_scope_context(request), "rows": rows, "chart": chart,
        "months": [(m, *months[m]) for m in labels],
        "years": period["years"],
    })


@firm_page(Capability.VIEW_BOOK)
def report_transition(request):
    today = timezone.localdate()
    as_of_text = request.GET.get("as_of", "").strip()
    as_of = _report_bound(reports.report_day_check, _day(as_of_text) or today)
    enrolled = reports.transition_accounts(_report_accounts(request))
    if request.GET.get("download") == "csv":
        return _csv_response(request, reports.transition_csv(reports.transition_rows(enrolled, as_of=as_of)),
                             f"transition-{as_of:%Y%m%d}.csv", "report.transition")
    page = paginate(request, enrolled)  # only the page's rows are figured (a book has thousands)
    page.object_list = [
        {"row": r, "legacy_share": (r.legacy_value / r.market_value) if r.market_value else None,
         "progress_pct": round((r.progress or 0) * 100)}
        for r in reports.transition_rows(list(page.object_list), as_of=as_of)
    ]
    return render(request, "frontend/ledger/report_transition.html", {
        **_scope_context(request), "as_of": as_of, "date_error": bool(as_of_text) and _day(as_of_text) is None,
        "page": page,
    })
