"""Refusals made before a view runs: a request body over the upload limit (413, from its
Content-Length, so nothing of it is read or held in memory), a page's form with more fields or files
than Django reads (400 naming DATA_UPLOAD_MAX_NUMBER_FIELDS / _FILES; the API's are refused in
config/api_errors.py, where DRF reads its bodies) and NUL characters in query parameters or
form fields (400; PostgreSQL text cannot hold them). Pages get a page naming the problem; the API
(``/api/``) gets its usual ``{"code", "message", "detail"}`` body.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf

from config.input_limits import first_nul

__all__ = ["RequestGuardMiddleware", "refusal"]

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def refusal(request, status: int, code: str, message: str, detail: dict | None = None):
    """A refusal in the caller's language: JSON for the API, a page for people."""
    if _is_api(request):
        return JsonResponse({"code": code, "message": message, "detail": detail or {}}, status=status)
    title = "Too large" if status == 413 else "The request could not be used"
    # Before URL resolution Django still points at ROOT_URLCONF; the page's links need this host's URLs.
    set_urlconf(getattr(request, "urlconf", None))
    return render(request, "400.html", {"title": title, "message": message}, status=status)


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


def _form_refused(request, exc):
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return refusal(request, 413, "upload_too_large",
                       f"The form is over the limit of {_megabytes(limit)} (UPLOAD_MAX_MB).", {"limit_bytes": limit})
    setting, what = (("DATA_UPLOAD_MAX_NUMBER_FILES", "files") if isinstance(exc, TooManyFilesSent)
                     else ("DATA_UPLOAD_MAX_NUMBER_FIELDS", "fields"))
    limit = getattr(settings, setting)
    return refusal(request, 400, "malformed_request",
                   f"The form has more than {limit} {what} ({setting}); send fewer, or import the rows as a file.",
                   {"limit": limit, "setting": setting})


class RequestGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.UPLOAD_MAX_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django refuses a malformed length itself when the body is read
        if length > limit:
            return refusal(
                request, 413, "upload_too_large",
                f"The upload is {_megabytes(length)}; the limit is {_megabytes(limit)} (UPLOAD_MAX_MB). "
                "Split the file, or import it with manage.py import_book.",
                {"bytes": length, "limit_bytes": limit},
            )
        name = first_nul(request.GET.lists())
        if name is not None:
            return refusal(request, 400, "invalid", f"The query parameter “{name}” contains a NUL character (\\x00).",
                           {"field": name})
        if not _is_api(request) and request.method == "POST" and request.content_type.startswith(_FORMS):
            # A page's form, read here rather than first by the CSRF check, whose refusal of a form over
            # Django's limits would be the bare "could not be read" page, naming nothing.
            try:
                request.POST  # noqa: B018 - reading it is the check
            except (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig) as exc:
                return _form_refused(request, exc)
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        # Form fields of pages (the API checks its bodies itself, and must read them through DRF).
        if _is_api(request) or request.method != "POST" or not request.content_type.startswith(_FORMS):
            return None
        name = first_nul(request.POST.lists())
        if name is not None:
            return refusal(request, 400, "invalid", f"The field “{name}” contains a NUL character (\\x00).",
                           {"field": name})
        return None
