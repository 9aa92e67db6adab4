"""The audit log (firm admins and compliance), filterable, newest first, in words: each action as
``tenants.audit.actions.Action`` words it, accounts and proposals by their account numbers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import BadRequest
from django.shortcuts import render
from django.utils.text import capfirst

from rebalancing.api.visibility import audit_events_visible_to
from rebalancing.exports import csv_download, csv_text
from rebalancing.models import Account, Household, Proposal
from tenants.audit.actions import Action
from tenants.permissions import Capability

from ..filters import AuditLogFilter
from ..query import date_param
from .common import firm_page, paginate

KIND_WORDS = {"proposal": "Proposal", "account": "Account", "household": "Household", "user": "Person",
              "parametertemplate": "Template", "modelportfolio": "Model", "rebalancerun": "Run", "import": "Import",
              "apikey": "API key", "approvalpolicy": "Approval policy", "order": "Order", "taxlot": "Tax lot"}


@cache
def _model_words() -> dict[str, str]:
    """Each model's name in words ("householdproposal" -> "Household proposal"): an object type is
    the model's name as audit_record stores it."""
    return {m._meta.model_name: capfirst(m._meta.verbose_name) for m in apps.get_models()}


def _kind_words(object_type: str) -> str:
    return KIND_WORDS.get(object_type) or _model_words().get(object_type) or capfirst(object_type.replace("_", " "))


def _filter_problems(get, visible) -> tuple[dict[str, str], list[str]]:
    """What a filter typed cannot mean, by field, so the page says it beside the field (values kept)
    instead of a 400 page, or "no record matches" for filters that could match nothing; and which
    dates are not days at all."""
    problems, days = {}, {}
    for name in ("since", "until"):
        try:
            days[name] = date_param(get, name)
        except BadRequest:
            problems[name] = f"“{get[name].strip()[:40]}” is not a day: write it YYYY-MM-DD."
    not_days = list(problems)
    if days.get("since") and days.get("until") and days["since"] > days["until"]:
        problems["since"] = f"From ({days['since']:%Y-%m-%d}) is after To ({days['until']:%Y-%m-%d}): no day is in both."
    # Most ids are numbers; exports are recorded by name ("audit"), so a word is refused only if no record has it.
    object_id = get.get("object_id", "").strip()
    if object_id and not (object_id.isascii() and object_id.isdigit()) and not visible.filter(object_id=object_id).exists():
        problems["object_id"] = (f"No record has the object id “{object_id[:40]}”: an object's id is its number "
                                 "(the 42 of /accounts/42/).")
    return problems, not_days


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


def actor_names(events) -> dict[str, str]:
    """User name -> name of the people who made ``events``: shown by name, as the proposal's history
    says them, the user name beside it (what the record keeps and what "Who" filters by)."""
    return {u: f"{first} {last}".strip() for u, first, last in get_user_model().objects.filter(
        username__in={e.actor for e in events}).exclude(first_name="", last_name="")
        .values_list("username", "first_name", "last_name")}


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


_ABSENT = object()


def _leaves(value, prefix: str = "") -> dict[str, Any]:
    """A before/after dict as its leaves, nested keys dotted ({"trading": {"min_trade_value": 250}}
    -> {"trading.min_trade_value": 250}); lists and empty dicts are leaves."""
    if isinstance(value, dict) and value:
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    return {prefix or "value": value}


def _value_words(value) -> str:
    if value is _ABSENT:
        return "—"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 500.0 as the form typed it: 500
    return value if isinstance(value, str) else json.dumps(value)


def changed_keys(before, after) -> list[tuple[str, str, str]]:
    """What a record changed: (dotted key, old, new) for each leaf that differs between ``before``
    and ``after``, "—" where a side lacks it; in the order the record holds them."""
    old, new = (_leaves(side) if side else {} for side in (before, after))
    keys = list(old) + [k for k in new if k not in old]
    return [(key, _value_words(old.get(key, _ABSENT)), _value_words(new.get(key, _ABSENT)))
            for key in keys if old.get(key, _ABSENT) != new.get(key, _ABSENT)]


@firm_page(Capability.READ_AUDIT)
def audit_log(request):
    get = request.GET
    visible = audit_events_visible_to(request.user)
    # order_by(): a DISTINCT under the model's default ordering would repeat each value per row.
    present = set(visible.order_by().values_list("action", flat=True).distinct())
    actions = sorted(((a, Action.words_for(a)) for a in present), key=lambda pair: pair[1])
    kinds = sorted(((k, _kind_words(k)) for k in visible.order_by().values_list("object_type", flat=True).distinct()
                    if k), key=lambda pair: pair[1])
    problems, not_days = _filter_problems(get, visible)
    if problems:
        return render(request, "frontend/audit_log.html", {
            "page": None, "actions": actions, "kinds": kinds, "filtered": True, "problems": problems,
            "not_days": not_days}, status=400)
    listed = AuditLogFilter(get, queryset=visible)
    qs = listed.qs
    if get.get("download") == "csv":
        if qs.count() <= MAX_CSV_ROWS:
            return _csv(request, qs.order_by("-at", "-id"), listed)
        messages.error(request, f"More than {MAX_CSV_ROWS:,} records match: narrow the dates to download them.")
    page = paginate(request, qs.order_by("-at", "-id"), per_page=50)
    names = _object_names(page)
    people = actor_names(page)
    for e in page:
        e.actor_name = people.get(e.actor, "")
        e.words = Action.words_for(e.action)
        e.kind = _kind_words(e.object_type) if e.object_type else ""
        # A record with both sides: the keys it changed, old -> new (the whole of each in a details element).
        e.changed = changed_keys(e.before, e.after) if e.before and e.after else None
        e.name = names.get((e.object_type, e.object_id)) or e.object_repr or (f"#{e.object_id}" if e.object_id else "")
    return render(request, "frontend/audit_log.html", {
        "page": page, "actions": actions, "kinds": kinds, "filtered": listed.filtered,
        "csv_query": _csv_query(get), "problems": {},
    })


def _csv_query(get) -> str:
    query = get.copy()
    query.pop("page", None)
    query["download"] = "csv"
    return query.urlencode()
