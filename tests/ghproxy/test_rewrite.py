from __future__ import annotations

from ghproxy.rewrite import Rewriter

UP = "https://api.github.com"
PUB = "http://proxy:8888"


def test_body_urls() -> None:
    r = Rewriter(UP, PUB)
    body = b'{"url":"https://api.github.com/repos/o/r","html_url":"https://github.com/o/r","root":"https://api.github.com"}'
    assert (
        r.body(body)
        == b'{"url":"http://proxy:8888/repos/o/r","html_url":"https://github.com/o/r","root":"http://proxy:8888"}'
    )


def test_templated_and_query_urls() -> None:
    r = Rewriter(UP, PUB)
    assert (
        r.body(b'"https://api.github.com{/owner}" "https://api.github.com?x"')
        == b'"http://proxy:8888{/owner}" "http://proxy:8888?x"'
    )


def test_lookalike_hosts_untouched() -> None:
    r = Rewriter("http://127.0.0.1:90", PUB)
    assert r.body(b'"http://127.0.0.1:9000/x"') == b'"http://127.0.0.1:9000/x"'
    assert r.body(b'"http://127.0.0.1:90/x"') == b'"http://proxy:8888/x"'


def test_link_header() -> None:
    r = Rewriter(UP, PUB)
    link = '<https://api.github.com/repos/o/r/pulls?page=2>; rel="next", <https://api.github.com/repos/o/r/pulls?page=5>; rel="last"'
    assert (
        r.header(link)
        == '<http://proxy:8888/repos/o/r/pulls?page=2>; rel="next", <http://proxy:8888/repos/o/r/pulls?page=5>; rel="last"'
    )


def test_location_header_exact_base() -> None:
    assert Rewriter(UP, PUB).header("https://api.github.com") == "http://proxy:8888"


def test_upstream_with_path_prefix() -> None:
    r = Rewriter("https://ghe.example/api/v3", PUB)
    assert (
        r.body(b'"https://ghe.example/api/v3/repos/o/r" "https://ghe.example/o/r"')
        == b'"http://proxy:8888/repos/o/r" "https://ghe.example/o/r"'
    )


def test_same_base_is_identity() -> None:
    body = b'"http://proxy:8888/x"'
    assert Rewriter(PUB, PUB).body(body) is body
