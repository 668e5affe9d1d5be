"""Cursor pagination for every API list: stable under inserts, no OFFSET (a deep page costs what the first does)."""

from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"  # a view may name its own (an indexed column, ending in a unique one)
