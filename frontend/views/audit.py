"""The audit log (firm admins and compliance), filterable, newest first, in words: each action as
``tenants.audit.actions.Action`` words it, accounts and proposals by their account numbers."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import render

from rebalancing.api.visibility import audit_events_visible_to
from rebalancing.exports import csv_download, csv_text
from rebalancing.models import Account, Household, Proposal
from tenants.audit.actions import Action
from tenants.permissions import Capability

from ..filters import AuditLogFilter
from .common import firm_page, paginate

KIND_WORDS = {"proposal": "Proposal", "account": "Account", "household": "Household", "user": "Person",
              "parametertemplate": "Template", "modelportfolio": "Model", "rebalancerun": "Run", "import": "Import",
              "apikey": "API key", "approvalpolicy": "Approval policy", "order": "Order", "taxlot": "Tax lot"}


def _object_names(events) -> dict[tuple[str, str], str]:
    """What each event's object is called, in one query per kind: a proposal by its account's number,
    an account by its number, a household by its name."""
    ids: dict[str, set[int]] = {}
    for e in events:
        if e.object_type in ("proposal", "account", "household") and e.object_id.isdigit():
            ids.setdefault(e.object_type, set()).add(int(e.object_id))
    names: dict[tuple[str, str], str] = {}
    for pk, number in Proposal.objects.filter(pk__in=ids.get("proposal", ())).values_list(
            "pk", "account__custodian_number"):
        names[("proposal", str(pk))] = f"#{pk} · account {number}"
    for pk, number in Account.objects.filter(pk__in=ids.get("account", ())).values_list("pk", "custodian_number"):
        names[("account", str(pk))] = number
    for pk, name in Household.objects.filter(pk__in=ids.get("household", ())).values_list("pk", "name"):
        names[("household", str(pk))] = name
    return names


MAX_CSV_ROWS = 100_000
CSV_COLUMNS = ("at_utc", "actor", "actor_kind", "action", "action_words", "object_type", "object_id", "object",
               "before", "after", "comment")


def _json(value) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)


def _csv(request, events, listed):
    """The filtered records whole (the page cuts before/after short), audited as a download: what
    compliance keeps or hands to an examiner without going through the API."""
    rows = [(e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.actor_kind, e.action, Action.words_for(e.action),
             e.object_type, e.object_id, e.object_repr, _json(e.before), _json(e.after), e.comment)
            for e in events.iterator(chunk_size=2000)]
    filters = {k: listed.data.get(k) for k in ("actor", "action", "object_type", "object_id", "since", "until")}
    return csv_download(user=request.user, text=csv_text(CSV_COLUMNS, rows), filename="audit-log.csv", what="audit",
                        filters=filters)


@firm_page(Capability.READ_AUDIT)
def audit_log(request):
    get = request.GET
    visible = audit_events_visible_to(request.user)
    listed = AuditLogFilter(get, queryset=visible)
    qs = listed.qs
    # order_by(): a DISTINCT under the model's default ordering would repeat each value per row.
    present = set(visible.order_by().values_list("action", flat=True).distinct())
    actions = sorted(((a, Action.words_for(a)) for a in present), key=lambda pair: pair[1])
    kinds = sorted(((k, KIND_WORDS.get(k, k.replace("_", " ").capitalize()))
                    for k in visible.order_by().values_list("object_type", flat=True).distinct() if k),
                   key=lambda pair: pair[1])
    if get.get("download") == "csv":
        if qs.count() <= MAX_CSV_ROWS:
            return _csv(request, qs.order_by("-at", "-id"), listed)
        messages.error(request, f"More than {MAX_CSV_ROWS:,} records match: narrow the dates to download them.")
    page = paginate(request, qs.order_by("-at", "-id"), per_page=50)
    names = _object_names(page)
    for e in page:
        e.words = Action.words_for(e.action)
        e.kind = KIND_WORDS.get(e.object_type, e.object_type.replace("_", " ").capitalize())
        e.name = names.get((e.object_type, e.object_id)) or e.object_repr or (f"#{e.object_id}" if e.object_id else "")
    return render(request, "frontend/audit_log.html", {
        "page": page, "actions": actions, "kinds": kinds, "filtered": listed.filtered,
        "csv_query": _csv_query(get),
    })


def _csv_query(get) -> str:
    query = get.copy()
    query.pop("page", None)
    query["download"] = "csv"
    return query.urlencode()
