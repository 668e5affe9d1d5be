"""Pages of long lists: Django's Paginator behind one query parameter per list, the page's other parameters kept.

A page with several lists (a partner's people, pending requests, invites…) pages each through its own parameter
(`?people=2&invites=3`): a link to the next page of one list keeps where the others are. Drawn by
templates/_pagination.html.
"""

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


class _CountedPaginator(Paginator):
    """A Paginator that may be told its count (read already with others in one query) instead of asking for it."""

    def __init__(self, object_list, per_page: int, *, count: int | None = None):
        super().__init__(object_list, per_page)
        if count is not None:
            self.count = count  # a cached_property: this value is used, no COUNT query is made


def _number(value: str | None) -> int:
    try:
        return max(int(value or 1), 1)
    except ValueError:
        return 1


def page_of(
    items: QuerySet | Sequence, *, request: HttpRequest, param: str = "page", per_page: int = PAGE_SIZE,
    count: int | None = None,
) -> Page:
    """The page of `items` that `?<param>=` names: the first for anything but a positive number, the last past
    the end (a list that shrank since the link was drawn still shows something).

    `items` must be ordered on a unique key, or rows may repeat or go missing between pages. `count`, when the
    caller has it, saves the COUNT query. The page carries the links of its first, previous, next and last pages
    (`first_url`…), each keeping the request's other parameters."""
    paginator = _CountedPaginator(items, per_page, count=count)
    page = paginator.page(min(_number(request.GET.get(param)), paginator.num_pages))
    page.param = param

    def url(number: int) -> str:
        query = request.GET.copy()
        query.pop(param, None)
        if number > 1:
            query[param] = str(number)
        return f"{request.path}?{query.urlencode()}" if query else request.path

    page.first_url = url(1)
    page.previous_url = url(page.number - 1) if page.has_previous() else ""
    page.next_url = url(page.number + 1) if page.has_next() else ""
    page.last_url = url(paginator.num_pages)
    return page
