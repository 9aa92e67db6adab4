"""Importing the book's CSV files in the browser: the same ``book_import`` service as the command,
the admin and the API, so a bad file is refused whole with its line/column/problem table."""

from __future__ import annotations

from datetime import date
from importlib import import_module

from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf
from django.shortcuts import render

from rebalancing.imports import KINDS, PERSON_KINDS, ImportRejected, book_import
from rebalancing.models import TaxLot
from tenants.errors import DomainError
from tenants.permissions import Capability, user_can

from .common import firm_page, need

# What each file is, in the order a new firm loads them (later kinds refer to earlier ones).
KIND_WORDS = {
    "securities": "Security master: symbols, names, asset classes, sectors, tags, ESG scores",
    "prices": "Closing prices by day",
    "benchmark_weights": "Benchmark constituents and their weights by day",
    "accounts": "Accounts and their households (new households are created)",
    "lots": "Tax lots: an account's lots are replaced by the file's",
    "trades": "Recent trades (for the wash-sale window)",
    "model_weights": "Model weights: a new version of each model in the file (sleeves and holdings in %)",
}

# Who may import each kind beyond the page's own capability (a model's version: who may manage models).
KIND_NEEDS = {"model_weights": Capability.MANAGE_MODELS}


_MODULE_OF = {"benchmark_weights": "benchmarks"}  # the other kinds' modules bear their names


def _columns(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    module = import_module(f"rebalancing.imports.{_MODULE_OF.get(kind, kind)}")
    return getattr(module, "REQUIRED", ()), getattr(module, "OPTIONAL", ())


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def lots_held() -> dict:
    """How many lots the book holds now, and in how many accounts, for the lots file's question: a
    lot the ledger split (wash sales) counts once, as the file lists it (``held_lots_as_bought``)."""
    as_bought = (TaxLot.objects.order_by()
                 .annotate(as_bought=Coalesce(NullIf(F("purchase_lot_id"), Value("")), F("lot_id"))))
    return {"lots": as_bought.values("account_id", "as_bought").distinct().count(),
            "accounts": TaxLot.objects.order_by().values("account_id").distinct().count()}


@firm_page(Capability.IMPORT_DATA)
def import_page(request):
    offered = [k for k in (*KINDS, *PERSON_KINDS) if k not in KIND_NEEDS or user_can(request.user, KIND_NEEDS[k])]
    kinds = [{"value": k, "words": KIND_WORDS.get(k, k), "required": _columns(k)[0], "optional": _columns(k)[1]}
             for k in offered]
    context: dict = {"kinds": kinds, "chosen": request.POST.get("kind", ""), "held": lots_held()}
    status = 200
    if request.method == "POST":
        upload, kind = request.FILES.get("file"), request.POST.get("kind", "")
        as_of_text = request.POST.get("as_of", "").strip()
        as_of = _day(as_of_text)
        if kind in KIND_NEEDS:
            need(request.user, KIND_NEEDS[kind])  # 403, as the model page's own save
        if kind not in KINDS and kind not in PERSON_KINDS:
            context["form_error"] = "Choose what the file holds."
        elif upload is None:
            context["form_error"] = "Choose a CSV file to import."
        elif as_of_text and as_of is None:
            context["form_error"] = f"“{as_of_text[:40]}” is not a date (YYYY-MM-DD)."
        else:
            context["file_name"] = upload.name
            try:
                context["summary"] = book_import(kind=kind, source=upload, as_of=as_of, by=request.user)
            except ImportRejected as exc:
                detail = exc.detail or {}
                context["rejected"] = {"message": exc.message, "problems": detail.get("problems", []),
                                       "total": detail.get("total"), "shown": detail.get("shown")}
            except DomainError as exc:
                context["form_error"] = exc.message
        status = 200 if "summary" in context else 400
    return render(request, "frontend/import.html", context, status=status)
