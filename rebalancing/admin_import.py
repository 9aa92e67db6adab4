"""The admin's CSV upload: the same import service as the command and the API."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from rebalancing.imports import KINDS, ImportRejected, book_import
from tenants.errors import DomainError

# Which model's add permission allows importing each kind.
_PERMISSION = {
    "securities": "rebalancing.add_security",
    "prices": "rebalancing.add_price",
    "benchmark_weights": "rebalancing.add_benchmarkweight",
    "accounts": "rebalancing.add_account",
    "lots": "rebalancing.add_taxlot",
    "trades": "rebalancing.add_traderecord",
}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, k.replace("_", " ").capitalize()) for k in KINDS])
    file = forms.FileField(help_text="A CSV file in the documented layout (docs/csv-formats.md)")
    as_of = forms.DateField(required=False, help_text="Dates are checked against this day (default: today)")


def import_view(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not request.user.has_perm(_PERMISSION[kind]):
            raise PermissionDenied(f"You may not import {kind}.")
        try:
            summary = book_import(kind=kind, source=form.cleaned_data["file"], as_of=form.cleaned_data["as_of"],
                                  by=request.user)
        except ImportRejected as exc:
            report = exc
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Imported {summary}.")
            return redirect(request.path)
    context = {
        **admin.site.each_context(request),
        "title": "Import a CSV file",
        "form": form,
        "report": report,
        "problems": report.detail.get("problems", []) if report else [],
    }
    return TemplateResponse(request, "admin/rebalancing/import.html", context)
