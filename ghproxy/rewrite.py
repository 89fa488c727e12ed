"""Rewriting absolute upstream URLs to the proxy's public URL, in headers and in bodies.

PyGithub refuses `url` fields and `Link` pages on a host other than its base URL, and octokit follows `Link`
wherever it points: both must only ever see the proxy's address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What may follow a base URL inside JSON, a Link header or a Location header.
_BOUNDARIES = ("/", '"', "?", "#", "{", ">", ";", ",", " ")


@dataclass(frozen=True, slots=True)
class Rewriter:
    upstream: str
    public: str
    _pairs: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False)
    _up: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        up = self.upstream.rstrip("/")
        pub = self.public.rstrip("/")
        object.__setattr__(self, "_up", up.encode())
        object.__setattr__(
            self, "_pairs", tuple(((up + b).encode(), (pub + b).encode()) for b in _BOUNDARIES if up != pub)
        )

    def body(self, data: bytes) -> bytes:
        if not self._pairs or self._up not in data:
            return data
        for old, new in self._pairs:
            data = data.replace(old, new)
        return data

    def header(self, value: str) -> str:
        if not self._pairs:
            return value
        raw = value.encode("utf-8", "surrogateescape")
        return self.body(raw + b" ").decode("utf-8", "surrogateescape")[:-1]


REWRITTEN_HEADERS = frozenset({"link", "location", "content-location"})
