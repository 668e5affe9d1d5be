"""Pages of long lists: one parameter per list, the others kept, any page number answered sensibly."""

from django.test import RequestFactory

from core.paging import page_of

ROWS = list(range(1, 121))  # 120 rows: three pages of 50


def page(query: str, **kwargs):
    return page_of(ROWS, request=RequestFactory().get(f"/partners/acme/{query}"), **kwargs)


def test_the_page_named_by_its_parameter_is_shown_with_its_neighbours():
    second = page("?people=2", param="people")
    assert list(second.object_list) == list(range(51, 101))
    assert (second.number, second.paginator.num_pages, second.paginator.count) == (2, 3, 120)
    assert second.previous_url == "/partners/acme/"
    assert second.next_url == "/partners/acme/?people=3"


def test_links_keep_the_other_lists_where_they_are():
    second = page("?invites=4&people=2", param="people")
    assert second.next_url == "/partners/acme/?invites=4&people=3"
    assert second.first_url == "/partners/acme/?invites=4"


def test_a_page_past_the_end_shows_the_last_page():
    assert page("?page=99").number == 3
    assert list(page("?page=99").object_list) == list(range(101, 121))


def test_anything_but_a_positive_number_shows_the_first_page():
    for value in ["0", "-2", "two", "", "1e3"]:
        assert page(f"?page={value}").number == 1, value


def test_a_count_given_is_used_instead_of_counting():
    assert page("", count=60).paginator.num_pages == 2


def test_an_empty_list_has_one_empty_page():
    empty = page_of([], request=RequestFactory().get("/"))
    assert (empty.number, list(empty.object_list), empty.next_url) == (1, [], "")
