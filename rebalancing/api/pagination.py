from rest_framework.pagination import PageNumberPagination

__all__ = ["FirmPagination"]


class FirmPagination(PageNumberPagination):
    """``?page=2&page_size=100``; answers ``{"count", "next", "previous", "results"}``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
