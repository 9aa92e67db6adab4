"""A page's form-only address opened in the browser (a reload after posting, a bookmark, a link
copied from the address bar): Django's ``require_POST`` answers 405 with an empty body, a blank page.
Here it is a page saying nothing was changed and where the form lives. The API keeps its 405."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import Resolver404, resolve

__all__ = ["FormOnlyAddressMiddleware", "form_page_of"]


def form_page_of(path: str, urlconf=None) -> str:
    """The page whose form posts to ``path``: the nearest address above it that is a page
    (``/households/7/tax/`` is posted from ``/households/7/``, ``/households/7/proposals/9/decide/``
    too), as the pages' form actions are laid out; the start page when none is."""
    parts = path.strip("/").split("/")
    for n in range(len(parts) - 1, 0, -1):
        candidate = "/" + "/".join(parts[:n]) + "/"
        try:
            resolve(candidate, urlconf)
        except Resolver404:
            continue
        return candidate
    return "/"


class FormOnlyAddressMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (response.status_code != 405 or request.method not in ("GET", "HEAD") or request.path.startswith("/api/")
                or response.content):
            return response
        page = render(request, "400.html", {
            "title": "Nothing to open here",
            "message": "This address only takes a form's submission, so opening it shows nothing and changes "
                       "nothing (a reload after sending a form, or a bookmark, lands here).",
            "back": form_page_of(request.path, getattr(request, "urlconf", None))}, status=405)
        page["Allow"] = response.get("Allow", "POST")
        return page
