"""Link headers in GitHub's format and order."""

from __future__ import annotations

from ghsim.pagination import Page, link_header, parse, slice_page


def test_parse_bounds() -> None:
    assert parse({}) == Page(1, 30)
    assert parse({"per_page": "500", "page": "0"}) == Page(1, 100)
    assert parse({"per_page": "x"}) == Page(1, 30)


def test_links() -> None:
    q = [("state", "all"), ("page", "2"), ("per_page", "10")]
    link = link_header("http://h", "/r", q, Page(2, 10), 35)
    assert link == (
        '<http://h/r?state=all&per_page=10&page=1>; rel="prev", '
        '<http://h/r?state=all&per_page=10&page=3>; rel="next", '
        '<http://h/r?state=all&per_page=10&page=4>; rel="last", '
        '<http://h/r?state=all&per_page=10&page=1>; rel="first"'
    )
    assert link_header("http://h", "/r", [], Page(1, 30), 30) is None
    assert slice_page(list(range(35)), Page(4, 10)) == [30, 31, 32, 33, 34]
