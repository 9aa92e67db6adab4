"""The security master as a firm sees it: every security with its asset class, tags, wash-sale
group, harvest substitute and latest price; searched and filtered, a page at a time (its changes
come through imports, the equivalents and substitutes pages, and each security's own page, which
writes through the securities file's import: ``services.row_edits``)."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import OuterRef, Q, Subquery
from django.shortcuts import redirect, render

from rebalancing.api.visibility import book_wide_visible_to
from rebalancing.models import Price, Security
from rebalancing.services.row_edits import SECURITY_COLUMNS, security_as_typed, security_edit
from tenants.errors import DomainError
from tenants.permissions import Capability

from .common import firm_page, paginate, refusal_text, visible_or_404

SECURITIES_PER_PAGE = 50


@firm_page(Capability.VIEW_BOOK)
def security_list(request):
    q = request.GET.get("q", "").strip()
    asset_class = request.GET.get("asset_class", "").strip()
    securities = book_wide_visible_to(request.user, Security.objects.select_related("harvest_substitute"))
    asset_classes = sorted(set(securities.values_list("asset_class", flat=True)))
    if q:
        securities = securities.filter(Q(symbol__icontains=q) | Q(name__icontains=q))
    if asset_class:
        securities = securities.filter(asset_class=asset_class)
    latest = Price.objects.filter(security=OuterRef("pk")).order_by("-date")
    securities = securities.annotate(last_close=Subquery(latest.values("close")[:1]),
                                     last_date=Subquery(latest.values("date")[:1])).order_by("symbol")
    return render(request, "frontend/security_list.html", {
        "page": paginate(request, securities, per_page=SECURITIES_PER_PAGE), "q": q,
        "asset_class": asset_class, "asset_classes": asset_classes,
    })


# Each column of the securities file as the page's field: label, hint, kind.
_SECURITY_FIELDS = (
    ("name", "Name", "", "text"),
    ("asset_class", "Asset class", "The sleeve it counts in; a model sleeve holding it keeps its class.", "text"),
    ("sector", "Sector", "Empty: none.", "text"),
    ("tags", "Values tags", "Separated by | (fossil_fuels|tobacco); empty: none.", "text"),
    ("esg_score", "ESG score", "0 to 100; empty: not scored.", "text"),
    ("equivalence_group", "Wash-sale group (substantially identical securities)",
     "Securities with the same label are one group for the wash-sale rule; empty: none.", "text"),
    ("is_fund", "A fund", "", "checkbox"),
    ("fractional", "Traded in fractions of a share", "", "checkbox"),
)


def row_words(spec, refusal=None, changed=()) -> str:
    """A row form's refusal, or the fields a save changed, by the page's labels, not the file's column
    names ("ESG score: 'abc' is not a number", not "esg_score: ...")."""
    labels = {name: label for name, label, *_ in spec}
    if refusal is None:
        return ", ".join(labels.get(c, c.replace("_", " ")) for c in changed)
    problems = (getattr(refusal, "detail", None) or {}).get("problems")
    if not problems:
        return refusal_text(refusal)
    said = "; ".join(f"{labels.get(p['column'], p['column'])}: {p['problem']}" if p["column"] else p["problem"]
                     for p in problems)
    return f"Nothing was saved: {said.rstrip('.')}."


def row_fields(spec, values: dict[str, str], problems: dict[str, str]) -> list[dict]:
    """A row form's fields (``partials/row_fields.html``): each with its value (as typed or stored) and
    the file's problem with it; a select keeps a typed value it does not offer."""
    fields = []
    for name, label, hint, kind, *choices in spec:
        options = list(choices[0]) if choices else []
        if kind == "select" and values.get(name, "") not in {value for value, _ in options}:
            options.append((values.get(name, ""), values.get(name, "")))
        fields.append({"name": name, "label": label, "hint": hint, "kind": kind, "value": values.get(name, ""),
                       "problem": problems.get(name, ""), "choices": options})
    return fields


def _security_form(security, typed=None, refusal=None) -> dict:
    """The edit form: what was typed (a refused save) or what is stored, each field with the file's
    problem beside it (``RowRefused.detail["fields"]``)."""
    values = security_as_typed(security) | {k: v for k, v in (typed or {}).items() if k != "symbol"}
    problems = dict((getattr(refusal, "detail", None) or {}).get("fields", {})) if refusal is not None else {}
    return {"security": security, "fields": row_fields(_SECURITY_FIELDS, values, problems),
            "refusal": row_words(_SECURITY_FIELDS, refusal) if refusal is not None else ""}


@firm_page(Capability.IMPORT_DATA)
def security_edit_page(request, pk: int):
    """One security of the master, changed as the securities file's row (``services.row_edits``)."""
    security = visible_or_404(book_wide_visible_to(request.user, Security.objects.all()), pk=pk)
    if request.method == "POST":
        typed = {column: request.POST.get(column, "") for column in SECURITY_COLUMNS}
        for flag in ("is_fund", "fractional"):
            typed[flag] = "yes" if request.POST.get(flag) else "no"
        try:
            changed = security_edit(security=security, typed=typed, by=request.user)
        except DomainError as exc:
            return render(request, "frontend/security_edit.html", _security_form(security, typed, exc), status=400)
        messages.success(request, f"{security.symbol} saved: {row_words(_SECURITY_FIELDS, changed=changed)} changed."
                         if changed else f"Nothing changed for {security.symbol}.")
        return redirect("security_edit", pk=security.pk)
    return render(request, "frontend/security_edit.html", _security_form(security))
