"""GitHub-style pagination: `per_page`/`page` query parameters and the `Link` header."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    per_page: int


def parse(query: Mapping[str, str]) -> Page:
    def number(name: str, default: int) -> int:
        try:
            return int(query.get(name, default))
        except ValueError:
            return default

    return Page(max(1, number("page", 1)), min(MAX_PER_PAGE, max(1, number("per_page", DEFAULT_PER_PAGE))))


def slice_page(items: Sequence[T], page: Page) -> list[T]:
    start = (page.number - 1) * page.per_page
    return list(items[start : start + page.per_page])


def link_header(base: str, path: str, query: Sequence[tuple[str, str]], page: Page, total: int) -> str | None:
    """`<url>; rel="prev", <url>; rel="next", <url>; rel="last", <url>; rel="first"`, GitHub's order.

    `query` keeps the request's other parameters in their order; only `page` changes.
    """
    last = max(1, math.ceil(total / page.per_page))
    if last == 1 and page.number == 1:
        return None

    def url(n: int) -> str:
        params = [(k, v) for k, v in query if k != "page"] + [("page", str(n))]
        return f"{base}{path}?{urlencode(params)}"

    links = []
    if page.number > 1:
        links.append(f'<{url(min(page.number - 1, last))}>; rel="prev"')
    if page.number < last:
        links.append(f'<{url(page.number + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page.number > 1:
        links.append(f'<{url(1)}>; rel="first"')
    return ", ".join(links)
