"""CSV as a format of the API (``?format=csv`` or ``Accept: text/csv``), negotiated like JSON.

An endpoint that answers CSV only lists this renderer alone, so ``?format=json`` is a 400 naming csv
and ``Accept: application/json`` a 406; its errors are still the JSON error body (``CsvErrorsAsJson``).
The CSV itself is the browser's download (``rebalancing.exports.csv_download``), written by the view.
"""

from __future__ import annotations

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

__all__ = ["CSVRenderer", "CsvErrorsAsJson", "wants_csv"]


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        # Only an error answer reaches here (CsvErrorsAsJson turns it to JSON first): never a dict as CSV.
        return JSONRenderer().render(data, "application/json", renderer_context)


class CsvErrorsAsJson:
    """A view mixin: an error answer of a request that negotiated CSV is the JSON error body, with its
    JSON content type, as every other error of the API (config/api_errors.py)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400 and isinstance(
                getattr(response, "accepted_renderer", None), CSVRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


def wants_csv(request) -> bool:
    """Whether the request negotiated CSV (``?format=csv`` or ``Accept: text/csv``)."""
    return getattr(getattr(request, "accepted_renderer", None), "format", None) == "csv"

