from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

__all__ = ["FirmPagination"]


def _whole_number(request, name: str) -> int | None:
    """The parameter as a number from 1, or None when absent; anything else is refused by name (DRF's
    own pagination answered ?page_size=abc or 0 with the default size and ?page=abc with a 404)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 18:
        raise ValidationError({name: [f"{raw!r} is not a whole number from 1."]})
    return int(raw)


class FirmPagination(PageNumberPagination):
    """``?page=2&page_size=100``; answers ``{"count", "next", "previous", "results"}``. A page past the
    last is 404; a page or size that is not a whole number from 1 is 400 naming it."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        size = _whole_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        if request.query_params.get(self.page_query_param) not in self.last_page_strings:
            _whole_number(request, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response_schema(self, schema):
        # DRF writes "nullable: true", an OpenAPI 3.0 keyword; the published document is 3.1 (JSON
        # Schema), where null is a type: a strict validator refused the last page's "next": null.
        answer = super().get_paginated_response_schema(schema)
        answer["required"] = ["count", "next", "previous", "results"]  # every page carries all four (null links)
        for link in ("next", "previous"):
            field = answer["properties"][link]
            if field.pop("nullable", False):
                field["type"] = [field["type"], "null"]
        return answer
