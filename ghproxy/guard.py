"""Refusing requests the proxy must not forward: pure checks on the request line.

The proxy only ever forwards to `--upstream`; these checks make sure no request target can name another host or
escape the upstream's path prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import hdrs


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    message: str


def check(method: str, raw_target: str) -> Refusal | None:
    """None when the request may be forwarded, else the 4xx to answer with."""
    if method == hdrs.METH_CONNECT:
        return Refusal(405, "CONNECT is not supported: ghproxy is a reverse proxy for the GitHub API, not a tunnel.")
    if not raw_target.startswith("/"):
        # absolute-form (http://host/x), authority-form (host:443) and asterisk-form (*) targets
        return Refusal(400, "Request target must be a path such as /repos/OWNER/REPO; absolute URLs are refused.")
    if raw_target.startswith("//"):
        return Refusal(400, "Request target must not start with '//': it would name another host.")
    path = raw_target.split("?", 1)[0].split("#", 1)[0]
    decoded = unquote(path)
    if any(ch in decoded for ch in "\\\x00") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return Refusal(400, "Request path contains control characters or backslashes.")
    segments = decoded.split("/")
    if any(seg in (".", "..") for seg in segments):
        return Refusal(400, "Request path must not contain '.' or '..' segments.")
    if decoded.startswith("//"):
        return Refusal(400, "Request path must not start with an encoded '//'.")
    return None
