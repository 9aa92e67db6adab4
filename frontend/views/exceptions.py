"""Compliance's exceptions of a period (``rebalancing.services.exceptions``): proposals sent to
compliance and how each was decided, restricted securities traded, wash sales allowed by a setting
(proposed and executed), tax-limit, wash-sale and missed-RMD alerts, and instructions that set the
tax budget aside; filtered, newest first, 25 a page, and the same rows as a CSV file (audited).

Who: the audit trail's readers (``Capability.READ_AUDIT``: compliance and firm admins), as on
/audit/: the page is a review of what others did, across every advisor's book."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from rebalancing.exports import csv_download, csv_text
from rebalancing.services.exceptions import (
    KINDS,
    ExceptionFilters,
    exception_keys,
    exception_rows,
    period_default,
)
from tenants.permissions import Capability
from tenants.roles import FirmRole

from ..query import choice_param, date_param, id_param
from .common import firm_page, paginate

STATES = ("pending", "decided")
MAX_CSV_ROWS = 100_000
CSV_COLUMNS = ("at", "kind", "kind_words", "state", "account", "household", "advisors", "what", "who", "decisions",
               "amount", "proposal", "link")
_FIELDS = ("from", "to", "kind", "household", "advisor", "state")


def _filters(get, advisor_ids: set[int]) -> tuple[ExceptionFilters | None, dict[str, str], list[str]]:
    """The filters as typed, or what each field cannot mean (said beside it, the values kept), and
    which dates are not days at all (shown as text, not emptied by a date input)."""
    problems: dict[str, str] = {}
    days = {}
    for name, words in (("from", "From date"), ("to", "To date")):
        try:
            days[name] = date_param(get, name, what=words)
        except BadRequest as exc:
            problems[name] = str(exc)
    not_days = list(problems)
    start, end = period_default(timezone.localdate())
    start, end = days.get("from") or start, days.get("to") or end
    if not problems and start > end:
        problems["from"] = f"From ({start:%Y-%m-%d}) is after To ({end:%Y-%m-%d}): no day is in both."
    kinds = [k.strip() for k in get.getlist("kind") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        problems["kind"] = (f"“{unknown[0][:40]}” is not a kind of exception: choose among "
                            f"{', '.join(KINDS.values()).lower()}.")
    advisor = None
    try:
        advisor = id_param(get, "advisor", words=("none",), in_filter=True)
        if isinstance(advisor, int) and advisor not in advisor_ids:
            raise BadRequest(f"No advisor of this firm has the number {advisor}: choose one from the list.")
    except BadRequest as exc:
        problems["advisor"] = str(exc)
    state = ""
    try:
        state = choice_param(get, "state", STATES)
    except BadRequest as exc:
        problems["state"] = str(exc)
    if problems:
        return None, problems, not_days
    return ExceptionFilters(start=start, end=end, kinds=tuple(dict.fromkeys(kinds)), household=get.get("household", ""),
                            advisor=advisor, state=state), {}, not_days


def _link(row) -> str:
    if row.link == "proposal" and row.proposal_id:
        return reverse("proposal_detail", args=[row.proposal_id])
    if row.link == "ledger":
        return reverse("account_ledger", args=[row.account_id])
    return reverse("account_detail", args=[row.account_id])


def _csv(request, rows, filters: ExceptionFilters):
    lines = [(timezone.localtime(r.at).strftime("%Y-%m-%d %H:%M"), r.kind, r.kind_words, r.state, r.account_number,
              r.household_name, r.advisors, r.what, r.who, " | ".join(r.decisions),
              "" if r.amount is None else f"{r.amount:.2f}", r.proposal_id or "", r.url) for r in rows]
    asked = {k: request.GET.getlist(k) if k == "kind" else request.GET.get(k) for k in _FIELDS}
    asked = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in asked.items()}
    asked.update({"from": filters.start.isoformat(), "to": filters.end.isoformat()})
    name = f"exceptions-{filters.start:%Y-%m-%d}-to-{filters.end:%Y-%m-%d}.csv"
    return csv_download(user=request.user, text=csv_text(CSV_COLUMNS, lines), filename=name, what="exceptions",
                        filters=asked)


@firm_page(Capability.READ_AUDIT)
def exceptions_page(request):
    get = request.GET
    advisors = list(get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("first_name", "username"))
    filters, problems, not_days = _filters(get, {a.pk for a in advisors})
    shown = dict(zip(("shown_from", "shown_to"), period_default(timezone.localdate()), strict=True))
    context = {"kinds": KINDS, "advisors": advisors, "states": STATES, "problems": problems, "not_days": not_days,
               **shown,
               "chosen_kinds": get.getlist("kind"), "filtered": any(get.get(k) for k in _FIELDS)}
    if problems:
        return render(request, "frontend/exceptions.html", context | {"page": None}, status=400)
    keys = exception_keys(request.user, filters)
    if get.get("download") == "csv":
        if len(keys) <= MAX_CSV_ROWS:
            rows = exception_rows(keys)
            for row in rows:
                row.url = _link(row)
            return _csv(request, rows, filters)
        messages.error(request, f"More than {MAX_CSV_ROWS:,} exceptions match: narrow the period to download them.")
    page = paginate(request, keys)
    rows = exception_rows(list(page))
    for row in rows:
        row.url = _link(row)
    query = get.copy()
    query.pop("page", None)
    query["download"] = "csv"
    return render(request, "frontend/exceptions.html", context | {
        "page": page, "rows": rows, "start": filters.start, "end": filters.end, "csv_query": query.urlencode()})
