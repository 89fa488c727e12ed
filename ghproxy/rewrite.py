"""Rewriting absolute upstream URLs to the proxy's public URL, in headers and in JSON bodies.

PyGithub refuses `url` fields and `Link` pages on a host other than its base URL, and octokit follows `Link`
wherever it points: both must only ever see the proxy's address. Only URL-valued JSON members are rewritten
(`"url"`, `"*_url"`, `"href"`): a comment body, a file's content or a diff that happens to quote the upstream URL
is data and passes untouched, so a bot that reads and writes it back changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# What may follow a base URL: a path, the end of a JSON string, a query, a fragment, a URI template.
_AFTER_BASE = rb'(?=[/"?#{])'
# A JSON member whose name says its value is a URL. Inside a JSON string quotes are escaped (\"), so text that
# merely looks like such a member within a comment body never matches.
_URL_MEMBER = rb'("(?:[A-Za-z0-9_]*url|href)"\s*:\s*")'
_HEADER_BOUNDARIES = ("/", "?", "#", ">", ";", ",", " ", '"')


def is_json(content_type: str | None) -> bool:
    """`application/json` or a GitHub `application/vnd.github...+json` media type."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


@dataclass(frozen=True, slots=True)
class Rewriter:
    upstream: str
    public: str
    _up: bytes = field(init=False, repr=False)
    _pub: bytes = field(init=False, repr=False)
    _members: re.Pattern[bytes] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        up, pub = self.upstream.rstrip("/").encode(), self.public.rstrip("/").encode()
        object.__setattr__(self, "_up", up)
        object.__setattr__(self, "_pub", pub)
        pattern = re.compile(_URL_MEMBER + re.escape(up) + _AFTER_BASE) if up != pub else None
        object.__setattr__(self, "_members", pattern)

    def body(self, data: bytes) -> bytes:
        """A JSON body with upstream URLs in URL-valued members pointed at the proxy."""
        if self._members is None or self._up not in data:
            return data
        return self._members.sub(lambda m: m.group(1) + self._pub, data)

    def header(self, value: str) -> str:
        """A `Link` or `Location` value with upstream URLs pointed at the proxy."""
        if self._members is None:
            return value
        up, pub = self._up.decode(), self._pub.decode()
        padded = value + " "
        for b in _HEADER_BOUNDARIES:
            padded = padded.replace(up + b, pub + b)
        return padded[:-1]


REWRITTEN_HEADERS = frozenset({"link", "location", "content-location"})
