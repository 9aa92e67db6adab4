"""Models and parameter templates: read by everyone with the book, created and changed (a new
version, for models) by firm admins, with a preview of the change on a sample of accounts."""

from __future__ import annotations

import dataclasses
import re
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.input_limits import numeral_problem
from frontend.parameter_forms import (
    FIELDS,
    BoundField,
    group_fields,
    overridable_beyond_table,
    overridable_from_post,
    overridable_rows,
    parameters_problems,
    parse_fields,
    rows_as_typed,
    vocabulary_options,
)
from frontend.query import int_param
from frontend.templatetags.formatting import humanize_code
from rebalancing.access import accounts_visible_to
from rebalancing.api.visibility import book_wide_visible_to
from rebalancing.effective_parameters import flatten_parameters, leaf_value_text, unflatten, value_at
from rebalancing.engine import default_parameters, merge_parameter_dicts
from rebalancing.models import Benchmark, ModelPortfolio, ParameterTemplate, Sleeve
from rebalancing.parameter_labels import LABELS, setting_label
from rebalancing.selectors import asset_classes_known
from rebalancing.services.assignments import model_symbols_unpriced, superseded_words, unpriced_words
from rebalancing.services.book import SleeveSpec, model_create, model_version_create, template_save
from rebalancing.services.previews import model_change_preview, template_change_preview
from rebalancing.services.template_feasibility import template_settings_warnings
from tenants.audit.models import AuditEvent
from tenants.errors import DomainError
from tenants.permissions import Capability, user_can

from .accounts import _vocabularies
from .common import firm_page, parameter_errors, posted_kept, visible_or_404, warn_unknown_symbols

DEFAULTS = default_parameters().to_dict()
PREVIEW_SAMPLE = 50


# --- a form opened before someone else's save -------------------------------------------------
# Two tabs (or two admins) on one template or model: the later save would silently undo the
# earlier one, since each form holds every setting. Each form carries what it was opened on
# (``opened``: the template's last change, the model's version); a save on anything else is refused.
# The check is in the view, under a row lock held through the save; its natural home is
# ``template_save``/``model_version_create`` (rebalancing/services/book.py) taking an ``opened`` argument.

def _changed_since_words(what: str, who: str, when) -> str:
    return (f"{what} was changed by {who} at {when:%Y-%m-%d %H:%M} UTC since you opened it, so nothing was saved "
            "(saving would have undone that change). Reload the page to see it, then make your change again.")


def _template_opened(request, template) -> str:
    """What the template's form was opened on: the POST's mark when one came, else its last change."""
    return request.POST.get("opened", "") if request.method == "POST" else template.updated_at.isoformat()


def _template_changed_since(post, template: ParameterTemplate) -> str:
    """'' if the form was opened on the template as it is (or carries no mark, as a script's POST);
    otherwise the refusal, naming who changed it and when."""
    opened = post.get("opened", "")
    if not opened or opened == template.updated_at.isoformat():
        return ""
    last = (AuditEvent.objects.filter(object_type="parametertemplate", object_id=str(template.pk),
                                      action__in=["template.change", "template.create"])
            .order_by("-at", "-id").first())
    return _changed_since_words(f"Template “{template.name}”", last.actor if last else "someone",
                                last.at if last else template.updated_at)


def _model_opened(request, version) -> str:
    return request.POST.get("opened", "") if request.method == "POST" else str(version.number if version else 0)


def _model_changed_since(post, model: ModelPortfolio) -> str:
    """As ``_template_changed_since``, for the model's version the form was opened on."""
    opened, version = post.get("opened", ""), model.current_version
    if not opened or opened == str(version.number if version else 0):
        return ""
    who = (version.created_by.get_full_name() or version.created_by.get_username()) if version.created_by else "someone"
    return _changed_since_words(f"Model {model.name} (now version {version.number})", who, version.created_at)


# --- parameter templates ----------------------------------------------------------------------

@firm_page(Capability.VIEW_BOOK)
def template_list(request):
    visible = accounts_visible_to(request.user)
    templates = []
    for t in book_wide_visible_to(request.user, ParameterTemplate.objects.order_by("name")):
        values = merge_parameter_dicts(DEFAULTS, t.parameters or {})
        switched = [title for key, title in (("transition", "Transition"), ("screen", "Screen"), ("harvest", "Harvesting"),
                                             ("drift", "Drift bands")) if values[key].get("enabled")]
        if values["removed_asset_classes"]:
            switched.append("Removes " + ", ".join(humanize_code(c) for c in values["removed_asset_classes"]))
        if values["direct_index"]:
            switched.append("Direct index")
        switched += _restrictions_and_limits(values)
        templates.append({"template": t, "accounts": visible.governed_by(t).count(), "switched": switched,
                          "overridable": len(t.overridable or {})})
    return render(request, "frontend/template_list.html", {
        "templates": templates, "can_manage": user_can(request.user, Capability.MANAGE_MODELS)})


def _listed(symbols: list[str], most: int = 3) -> str:
    shown = ", ".join(symbols[:most])
    return shown + (f" and {len(symbols) - most} more" if len(symbols) > most else "")


def _restrictions_and_limits(values: dict[str, Any]) -> list[str]:
    """The template list's words for the restrictions (do not buy / sell, hold), trading limits and
    cash a template sets away from the engine's defaults, labelled as its form labels them
    ("Do not buy: XLE", "Turnover cap 20%", "Minimum trade $500")."""
    words = [f"{LABELS[key]}: {_listed(values['restrictions'][key])}"
             for key in ("do_not_buy", "do_not_sell", "hold") if values["restrictions"].get(key)]
    for group in ("trading", "cash"):
        for key, value in values[group].items():
            path = f"{group}.{key}"
            if value == value_at(DEFAULTS, path) or value is None:
                continue
            label = LABELS.get(key) or humanize_code(key)
            if path == "trading.tracking_error_cost":
                label = "Tax vs tracking"  # (the form's label explains its unit at length)
            if group == "cash":
                label = f"Cash {label.lower()}"
            if isinstance(value, bool):
                words.append(label if value else f"{label}: no")
            elif isinstance(value, str):
                words.append(f"{label}: {humanize_code(value)}")
            else:
                words.append(f"{label} {leaf_value_text(path, value)}")
    if values["wash_sale"].get("allow"):
        words.append(LABELS["allow"])
    if values.get("instructions"):
        count = len(values["instructions"])
        words.append(f"{count} instruction{'s' if count != 1 else ''}")
    return words


def _template_fields(values: dict[str, Any], errors: dict[str, str] | None = None, typed=None) -> list[BoundField]:
    """The form's fields; ``typed``, a refused POST, gives the row tables (direct index, instructions)
    as typed, since a row that could not be read is missing from ``values``."""
    vocab = _vocabularies()
    rows = rows_as_typed(typed, FIELDS) if typed is not None else {}
    bound = []
    for f in FIELDS:
        value = rows[f.path] if f.path in rows else value_at(values, f.path)
        options = vocabulary_options(vocab[f.vocabulary], value) if f.vocabulary else None
        bound.append(BoundField(f, value, inherited=value_at(DEFAULTS, f.path), error=(errors or {}).get(f.path, ""),
                                options=options))
    return bound


def _template_from_post(post, stored=None) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(parameters: the leaves that differ from the engine's defaults, overridable, errors);
    ``stored``: the template's limits until now (``overridable_from_post``)."""
    submitted, errors = parse_fields(post, FIELDS)
    defaults = flatten_parameters(DEFAULTS)
    changed = {}
    for f in FIELDS:
        if f.path in submitted:
            default = value_at(DEFAULTS, f.path) if f.path not in defaults else defaults[f.path]
            if submitted[f.path] != default:
                changed[f.path] = submitted[f.path]
    overridable, limit_errors = overridable_from_post(post, stored)
    errors.update(limit_errors)
    return unflatten(changed), overridable, errors


def _with_settings_problems(parameters: dict[str, Any], errors: dict[str, str], *,
                            stored: dict[str, Any] | None = None) -> dict[str, str]:
    """``errors`` (what the form could not read) with every setting the engine refuses among what
    it could: one save shows them all, not one per save. A single refusal of settings read whole
    is left to the service, which says it in the same words."""
    problems = parameters_problems(parameters, level="Template parameters", unread=errors, stored=stored)
    if not errors and len(problems) <= 1:
        return errors
    merged = {**problems, **errors}
    if not errors:  # several refused: the message above the form names where to look
        named = [f"“{setting_label(path)}”" for path in problems if path != "__all__"]
        listed = ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else "".join(named)
        merged["__all__"] = problems.get("__all__") or f"The template was not saved: see {listed} below."
    return merged


def _template_context(request, template, *, values=None, errors=None, overridable=None, typed=None, message="",
                      creating=False):
    """The template page; ``typed``: the POST just refused, whose rows are shown as typed."""
    values = merge_parameter_dicts(DEFAULTS, values if values is not None else (template.parameters if template else {}))
    visible = accounts_visible_to(request.user)
    beside = [path for path, error in (errors or {}).items() if path != "__all__" and error == message]
    if message and beside:  # said once, beside the setting: above the form, where to look
        message = f"The template was not saved: see “{setting_label(beside[0])}” below."
    return {
        "warnings": template_settings_warnings(template.parameters) if template else [],
        "template": template, "creating": creating, "groups": group_fields(_template_fields(values, errors, typed)),
        "kept_household": posted_kept(request, "template-household"),
        "errors": errors or {}, "message": message,
        "limit_errors": any(k.startswith("ov:") for k in (errors or {})),
        "overridable_rows": overridable_rows(
            overridable if overridable is not None else (template.overridable if template else {}), errors, typed),
        "can_manage": user_can(request.user, Capability.MANAGE_MODELS),
        "accounts": visible.governed_by(template).count() if template else 0,
        "leaves": [(p, v) for p, v in flatten_parameters(template.parameters or {}).items()] if template else [],
        "sample": PREVIEW_SAMPLE, "opened": _template_opened(request, template) if template else "",
    }


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
def template_detail(request, pk: int):
    template = visible_or_404(book_wide_visible_to(request.user, ParameterTemplate.objects.all()), pk=pk)
    if request.method == "POST":
        parameters, overridable, errors = _template_from_post(request.POST, template.overridable)
        overridable = overridable_beyond_table(template.overridable or {}) | overridable
        # A name cleared is refused (by template_save), not replaced by the old one without a word;
        # a form without the field keeps it.
        name = request.POST["name"].strip() if "name" in request.POST else template.name
        errors = _with_settings_problems(parameters, errors, stored=template.parameters)
        if not errors:
            try:
                with transaction.atomic():
                    template = ParameterTemplate.objects.select_for_update().get(pk=template.pk)
                    if stale := _template_changed_since(request.POST, template):
                        errors = {"__all__": stale}
                    else:
                        saved = template_save(user=request.user, code=template.code, name=name,
                                              parameters=parameters, overridable=overridable,
                                              description=request.POST.get("description", "").strip(),
                                              template=template)
            except DomainError as exc:
                errors = parameter_errors(exc)
            if not errors:
                if getattr(saved, "unchanged", False):  # the page saved as it is: nothing written
                    messages.info(request, f"Nothing changed: template “{name}” is kept as it was.")
                else:
                    messages.success(request, f"Template “{name}” saved. Accounts that follow it use it from the "
                                     "next run." + superseded_words(getattr(saved, "superseded", 0)))
                warn_unknown_symbols(request, parameters)
                return redirect("template_detail", pk=template.pk)
        context = _template_context(request, template, values=parameters, errors=errors, overridable=overridable,
                                    typed=request.POST,
                                    message=errors.get("__all__", "Some values could not be read; see below."))
        return render(request, "frontend/template_detail.html", context, status=400)
    return render(request, "frontend/template_detail.html", _template_context(request, template))


@firm_page(Capability.MANAGE_MODELS)
def template_create(request):
    if request.method == "POST":
        parameters, overridable, errors = _template_from_post(request.POST)
        code = request.POST.get("code", "").strip()
        name = request.POST.get("name", "").strip()
        errors = _with_settings_problems(parameters, errors)
        if not code or not name:
            errors["__all__"] = "Give the template a code (letters, digits, hyphens) and a name."
        if not errors:
            try:
                template = template_save(user=request.user, code=code, name=name, parameters=parameters,
                                         overridable=overridable, description=request.POST.get("description", "").strip())
            except DomainError as exc:
                errors.update(parameter_errors(exc))
            except Exception as exc:  # full_clean's ValidationError: a duplicate or malformed code
                errors["__all__"] = "; ".join(getattr(exc, "messages", [str(exc)]))
            else:
                messages.success(request, f"Template “{name}” created. Assign it to accounts or households from the "
                                          "Accounts page (Assign a template or model).")
                warn_unknown_symbols(request, parameters)
                return redirect("template_detail", pk=template.pk)
        context = _template_context(request, None, values=parameters, errors=errors, overridable=overridable,
                                    typed=request.POST,
                                    message=errors.get("__all__", "Some values could not be read; see below."),
                                    creating=True)
        return render(request, "frontend/template_detail.html", context, status=400)
    return render(request, "frontend/template_detail.html", _template_context(request, None, creating=True))


@firm_page(Capability.MANAGE_MODELS)
@require_POST
def template_preview(request, pk: int):
    """How many of the template's accounts would trade differently, and the tax (htmx fragment)."""
    template = visible_or_404(book_wide_visible_to(request.user, ParameterTemplate.objects.all()), pk=pk)
    parameters, _, errors = _template_from_post(request.POST)
    context: dict[str, Any] = {"errors": errors, "what": "template"}
    if not errors:
        try:
            context["preview"] = template_change_preview(template=template, parameters=parameters, user=request.user,
                                                         sample=PREVIEW_SAMPLE)
            # The page says how many accounts the template governs; a run (and the preview) leaves out
            # those without a model: said, so the two counts agree.
            governed = accounts_visible_to(request.user).governed_by(template).count()
            context["without_model"] = max(governed - context["preview"].accounts_total, 0)
        except DomainError as exc:
            context["problem"] = exc.message
    return render(request, "frontend/partials/change_preview.html", context)


# --- models -----------------------------------------------------------------------------------

@firm_page(Capability.VIEW_BOOK)
def model_list(request):
    visible = accounts_visible_to(request.user)
    counts = dict(visible.values("model_id").annotate(n=Count("id")).values_list("model_id", "n"))
    models = []
    for m in book_wide_visible_to(request.user, ModelPortfolio.objects.order_by("name").prefetch_related("versions__sleeves")):
        version = max(m.versions.all(), key=lambda v: v.number, default=None)
        models.append({"model": m, "version": version, "accounts": counts.get(m.pk, 0),
                       "sleeves": sorted(version.sleeves.all(), key=lambda s: -s.weight) if version else []})
    return render(request, "frontend/model_list.html", {
        "models": models, "can_manage": user_can(request.user, Capability.MANAGE_MODELS)})


def _percent(weight: Decimal) -> str:
    """Decimal("0.60000000") -> "60"."""
    return format((weight * 100).normalize(), "f")


def _sleeve_rows(version) -> list[dict[str, str]]:
    rows = []
    if version is not None:
        for s in version.sleeves.select_related("benchmark", "submodel").prefetch_related("holdings__security"):
            rows.append({
                "asset_class": s.asset_class, "weight": _percent(s.weight), "kind": s.kind,
                "holdings": ", ".join(f"{h.security.symbol} {_percent(h.weight)}" for h in
                                      sorted(s.holdings.all(), key=lambda h: -h.weight)),
                "benchmark": s.benchmark.code if s.benchmark else "", "submodel": s.submodel.code if s.submodel else "",
            })
    return rows


MAX_SLEEVE_ROWS = 200  # the form's rows; a model has a handful of sleeves
_HOLDING = re.compile(r"^\s*([A-Za-z0-9.\-/]+)\s*[:= ]\s*([0-9.]+)\s*%?\s*$")
_NEGATIVE_HOLDING = re.compile(r"^\s*([A-Za-z0-9.\-/]+?)\s*[:= ]\s*[-\u2212]\s*([0-9.]+)\s*%?\s*$")


def _typed_without_asset_class(row: dict[str, str]) -> str:
    """What a row without an asset class holds, in words ("a weight of 40%, holdings “VTI 100”"),
    or "" for an empty row; "held as" counts only when changed from the blank row's "holdings"."""
    typed = []
    if row["weight"]:
        typed.append(f"a weight of {row['weight'].rstrip('%')}%")
    if row["holdings"]:
        typed.append(f"holdings “{row['holdings']}”")
    if row["benchmark"]:
        typed.append(f"benchmark {row['benchmark']}")
    if row["submodel"]:
        typed.append(f"submodel {row['submodel']}")
    if row["kind"] and row["kind"] != Sleeve.Kind.HOLDINGS and not typed:
        typed.append(f"“held as” set to {humanize_code(row['kind'])}")
    return ", ".join(typed)


def _specs_from_post(post) -> tuple[list[SleeveSpec], list[dict[str, str]], list[str]]:
    """Sleeves typed in the form: weights in %, holdings as "VTI 60, ITOT 40" (% of the sleeve)."""
    rows, specs, problems = [], [], []
    for i in range(int_param(post, "rows", minimum=0, maximum=MAX_SLEEVE_ROWS, what="number of sleeve rows") or 0):
        row = {k: post.get(f"s{i}-{k}", "").strip() for k in ("asset_class", "weight", "kind", "holdings", "benchmark",
                                                            "submodel")}
        row["remove"] = post.get(f"s{i}-remove", "")
        rows.append(row)
        if row["remove"]:
            continue
        if not row["asset_class"]:
            # A row with a weight or holdings but no asset class was once dropped without a word, so a
            # sleeve cleared by mistake vanished from the saved version; only an empty row is skipped.
            if typed := _typed_without_asset_class(row):
                problems.append(f"row {i + 1} has {typed} but no asset class: name its asset class, "
                                "or clear the row (or tick “remove”)")
            continue
        if not row["weight"]:
            problems.append(f"row {i + 1} ({row['asset_class']}) has no weight: give it one in %, "
                            "or tick “remove”")
            continue
        try:
            weight = Decimal(row["weight"].rstrip("%")) / 100 if not numeral_problem(row["weight"]) else None
        except InvalidOperation:
            weight = None
        if weight is None or not weight.is_finite():
            problems.append(f"row {i + 1}, sleeve {row['asset_class']}: the weight “{row['weight']}” is not a number")
            continue
        holdings: dict[str, Decimal] = {}
        for part in filter(None, (p.strip() for p in row["holdings"].split(","))):
            match = _HOLDING.match(part)
            if not match and (negative := _NEGATIVE_HOLDING.match(part)):  # "ITOT -10": said as such
                problems.append(f"sleeve {row['asset_class']}: the weight of {negative.group(1).upper()} "
                                f"(-{negative.group(2)}%) is negative: a model holds, it does not short")
                continue
            if not match:
                problems.append(f"sleeve {row['asset_class']}: write holdings as “SYMBOL 60” (“{part}”)")
                continue
            symbol = match.group(1).upper()
            if symbol in holdings:  # the second would replace the first, and the sum would say only "50%"
                problems.append(f"{symbol} is named twice in sleeve {row['asset_class']}: name it once, "
                                "with its whole weight")
                continue
            try:
                holdings[symbol] = Decimal(match.group(2)) / 100
            except InvalidOperation:  # "VTI 1.2.3"
                problems.append(f"sleeve {row['asset_class']}: “{match.group(2)}” is not a number")
        kind = row["kind"] if row["kind"] in Sleeve.Kind.values else Sleeve.Kind.HOLDINGS
        specs.append(SleeveSpec(asset_class=row["asset_class"], weight=weight, holdings=holdings, kind=kind,
                                benchmark=row["benchmark"] or None, submodel=row["submodel"] or None, percent=True))
    return specs, rows, problems


RESCALE_MIN_PLACES, RESCALE_MAX_PLACES = 2, 6  # decimals of a percent: basis points at least, a sleeve's 8 of a fraction at most


def weights_rescaled(percents: list[Decimal], places: int) -> list[Decimal]:
    """``percents`` scaled pro rata to sum to exactly 100, each rounded to ``places`` decimals: each
    gets its share rounded down, then the units the rounding left go one each to the largest remainders
    (the first of equal ones first), so the sum is 100 exactly rather than 99.99 or 100.01."""
    quantum = Decimal(1).scaleb(-places)
    with localcontext() as context:
        context.prec = 40
        total = sum(percents, Decimal(0))
        exact = [p * 100 / total for p in percents]
        floors = [(e / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum for e in exact]
        units = int(((100 - sum(floors, Decimal(0))) / quantum).to_integral_value())
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
        for i in order[:units]:
            floors[i] += quantum
    return [f.quantize(quantum) for f in floors]


def _rescaled_after_removal(post, specs: list[SleeveSpec], rows: list[dict[str, str]]) -> tuple[list[SleeveSpec], str]:
    """With the form's "rescale the rest pro rata" ticked and a sleeve removed, the other sleeves'
    weights scaled to sum to 100% (to the precision they were typed in, basis points at least), and
    the words saying so ("" when nothing was rescaled): removing an asset class no longer leaves the
    user to recompute every weight."""
    removed = [r["asset_class"] for r in rows if r.get("remove") and r["asset_class"]]
    if not post.get("rescale") or not removed or not specs or any(s.weight <= 0 for s in specs):
        return specs, ""
    percents = [s.weight * 100 for s in specs]
    if sum(percents, Decimal(0)) == 100:
        return specs, ""  # already typed to 100%: nothing to rescale
    typed = max(max(-p.normalize().as_tuple().exponent, 0) for p in percents)
    new = weights_rescaled(percents, min(max(typed, RESCALE_MIN_PLACES), RESCALE_MAX_PLACES))
    specs = [dataclasses.replace(s, weight=p / 100) for s, p in zip(specs, new, strict=True)]
    words = ", ".join(f"{s.asset_class} {format(p.normalize(), 'f')}%" for s, p in zip(specs, new, strict=True))
    return specs, (f" {', '.join(removed)} removed; the rest rescaled pro rata to sum to 100%: {words}.")


FORM_ROWS = 6  # a new model's form has this many rows (the demo models have 5 or 6 sleeves)
SPARE_ROWS = 2  # blank rows below the sleeves a form already holds


def _blank_row() -> dict[str, str]:
    return {"asset_class": "", "weight": "", "kind": "holdings", "holdings": "", "benchmark": "", "submodel": ""}


def _with_blank_rows(rows: list[dict[str, str]], *, more: int = 0) -> list[dict[str, str]]:
    """``rows`` as they are, then blank ones: exactly ``more`` (the "Add a sleeve" button, on the
    rows as typed), otherwise enough for at least ``SPARE_ROWS`` blank and ``FORM_ROWS`` in all."""
    blank = sum(1 for r in rows if not any(r.get(k) for k in ("asset_class", "weight", "holdings")))
    extra = more or max(SPARE_ROWS - blank, FORM_ROWS - len(rows), 0)
    return rows + [_blank_row() for _ in range(min(extra, MAX_SLEEVE_ROWS - len(rows)))]


def _adding_a_sleeve(post) -> bool:
    """The form's "Add a sleeve" button: show the form again, as typed, with one more blank row."""
    return "add_sleeve" in post


def _model_context(request, model, *, rows=None, problem="", note="", creating=False, more=0):
    version = model.current_version if model else None
    rows = _with_blank_rows(rows if rows is not None else _sleeve_rows(version), more=more)
    return {
        "model": model, "version": version, "rows": rows, "problem": problem, "note": note, "creating": creating,
        # ticked unless the posted form had it unticked
        "rescale": request.method != "POST" or bool(request.POST.get("rescale")),
        "versions": model.versions.select_related("created_by").order_by("-number") if model else [],
        "can_manage": user_can(request.user, Capability.MANAGE_MODELS),
        "accounts": accounts_visible_to(request.user).filter(model=model).count() if model else 0,
        "kinds": Sleeve.Kind.choices, "benchmarks": Benchmark.objects.order_by("code"),
        "other_models": ModelPortfolio.objects.exclude(pk=getattr(model, "pk", None)).order_by("name"),
        "current_rows": _sleeve_rows(version), "sample": PREVIEW_SAMPLE,
        "opened": _model_opened(request, version) if model else "",
        # The asset classes a sleeve may be of (the service refuses any other): offered by the form,
        # read as the models list writes them, sent as their codes.
        "asset_classes": [(c, humanize_code(c)) for c in sorted(asset_classes_known())],
    }


def _warn_unpriced(request, model) -> None:
    """Saved, but a security the model holds has no price: said now, not at each run of its accounts."""
    if symbols := model_symbols_unpriced(model):
        messages.warning(request, f"Model {model.name} holds {unpriced_words(symbols)}.")


@firm_page(Capability.VIEW_BOOK, post=Capability.MANAGE_MODELS)
def model_detail(request, pk: int):
    model = visible_or_404(book_wide_visible_to(request.user, ModelPortfolio.objects.all()), pk=pk)
    if request.method == "POST":
        specs, rows, problems = _specs_from_post(request.POST)
        note = request.POST.get("note", "").strip()
        if _adding_a_sleeve(request.POST):
            return render(request, "frontend/model_detail.html",
                          _model_context(request, model, rows=rows, note=note, more=1))
        specs, rescaled = _rescaled_after_removal(request.POST, specs, rows)
        if not problems:
            try:
                with transaction.atomic():
                    model = ModelPortfolio.objects.select_for_update().get(pk=model.pk)
                    if stale := _model_changed_since(request.POST, model):
                        problems = [stale]
                    else:
                        version = model_version_create(model=model, sleeves=specs, user=request.user, note=note)
            except DomainError as exc:
                problems = [exc.message]
            if not problems:
                if getattr(version, "unchanged", False):  # the page saved as it is: no version, nothing superseded
                    messages.info(request, f"Nothing changed: the sleeves are those of version {version.number} of "
                                           f"{model.name}, so no new version was saved and its accounts' proposals stand.")
                else:
                    messages.success(request, f"Version {version.number} of {model.name} saved; the next run uses it."
                                     + rescaled + superseded_words(version.superseded))
                _warn_unpriced(request, model)
                return redirect("model_detail", pk=model.pk)
        return render(request, "frontend/model_detail.html",
                      _model_context(request, model, rows=rows, problem="; ".join(problems), note=note), status=400)
    return render(request, "frontend/model_detail.html", _model_context(request, model))


def _model_field_errors(code: str, name: str) -> dict[str, str]:
    """A new model's code and name refused in words, beside their fields: empty, or a code taken
    (``model_create`` refuses them too, in Django's words: "code: This field cannot be blank.")."""
    errors = {}
    if not code:
        errors["code"] = "Give the model a code (letters, digits, hyphens): imports and the API name it by it."
    elif (taken := ModelPortfolio.objects.filter(code=code).first()) is not None:
        errors["code"] = f"The code “{code}” is the model “{taken.name}”'s; choose another code."
    if not name:
        errors["name"] = "Give the model a name: the pages and the run menu show it."
    return errors


@firm_page(Capability.MANAGE_MODELS)
def model_create_view(request):
    if request.method == "POST":
        specs, rows, problems = _specs_from_post(request.POST)
        code, name = request.POST.get("code", "").strip(), request.POST.get("name", "").strip()
        if _adding_a_sleeve(request.POST):
            context = _model_context(request, None, rows=rows, creating=True, more=1)
            context.update({"code": code, "name": name, "description": request.POST.get("description", "")})
            return render(request, "frontend/model_detail.html", context)
        field_errors = _model_field_errors(code, name)
        if not problems and not field_errors:
            try:
                model = model_create(user=request.user, code=code, name=name, sleeves=specs,
                                     description=request.POST.get("description", "").strip())
            except DomainError as exc:
                field = (exc.detail or {}).get("field")
                if field in ("code", "name", "description"):
                    field_errors[field] = exc.message
                else:
                    problems = [exc.message]
            else:
                messages.success(request, f"Model {model.name} created (version 1).")
                _warn_unpriced(request, model)
                return redirect("model_detail", pk=model.pk)
        if field_errors:  # said beside the field; above the form, where to look
            problems.insert(0, "The model was not created: see " + " and ".join(
                f"its {f}" for f in field_errors) + " below.")
        context = _model_context(request, None, rows=rows, problem="; ".join(problems), creating=True)
        context.update({"code": code, "name": name, "description": request.POST.get("description", ""),
                        "field_errors": field_errors})
        return render(request, "frontend/model_detail.html", context, status=400)
    return render(request, "frontend/model_detail.html", _model_context(request, None, creating=True))


@firm_page(Capability.MANAGE_MODELS)
@require_POST
def model_preview(request, pk: int):
    model = visible_or_404(book_wide_visible_to(request.user, ModelPortfolio.objects.all()), pk=pk)
    specs, rows, problems = _specs_from_post(request.POST)
    specs, _ = _rescaled_after_removal(request.POST, specs, rows)
    context: dict[str, Any] = {"errors": {str(i): p for i, p in enumerate(problems)}, "what": "model"}
    if not problems:
        try:
            context["preview"] = model_change_preview(model=model, sleeves=specs, user=request.user, sample=PREVIEW_SAMPLE)
        except DomainError as exc:
            # The refusal of a save ("The model was not saved: ...") would say that nothing was saved
            # where nothing is: the problems themselves, and what to do.
            problems = (exc.detail or {}).get("problems") or []
            context["problem"] = (f"the model as edited is not valid: {'; '.join(problems)}. Correct it above, then "
                                  "preview again." if problems else exc.message)
    return render(request, "frontend/partials/change_preview.html", context)

