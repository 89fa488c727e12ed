"""A stored response and its versioned serialisation.

Bodies are stored decoded (identity) and with upstream URLs as they came: URL rewriting and compression happen when
an entry is served, so one entry serves every client whatever its host name or Accept-Encoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from aiohttp import hdrs

from ghproxy import headers as h

# cachecontrol-style version prefix: an entry written by another format version is a miss, never an error.
FORMAT = b"ghp1\n"


class CorruptEntry(ValueError):
    """Stored bytes that are not an entry of this format version."""


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: h.Headers
    body: bytes
    stored_at: float  # when upstream last sent or confirmed this representation (unix seconds)

    @property
    def etag(self) -> str | None:
        return h.get(self.headers, hdrs.ETAG)

    @property
    def last_modified(self) -> str | None:
        return h.get(self.headers, hdrs.LAST_MODIFIED)

    @property
    def size(self) -> int:
        """Approximate bytes held, for byte-bounded tiers."""
        return len(self.body) + sum(len(k) + len(v) + 4 for k, v in self.headers) + 96

    def revalidated(self, fresh_headers: h.Headers, now: float) -> Entry:
        """The entry after a 304: fresh end-to-end headers merged in (RFC 9111 §4.3.4), same body."""
        return replace(self, headers=h.merge_not_modified(self.headers, fresh_headers), stored_at=now)


def dumps(entry: Entry) -> bytes:
    meta = {"s": entry.status, "h": entry.headers, "t": entry.stored_at, "n": len(entry.body)}
    return FORMAT + json.dumps(meta, separators=(",", ":")).encode() + b"\n" + entry.body


def loads(data: bytes) -> Entry:
    """Parse stored bytes; raises CorruptEntry for anything that is not a whole entry of this version."""
    if not data.startswith(FORMAT):
        raise CorruptEntry("unknown entry format")
    meta_end = data.find(b"\n", len(FORMAT))
    if meta_end < 0:
        raise CorruptEntry("truncated entry")
    try:
        meta = json.loads(data[len(FORMAT) : meta_end])
        status = int(meta["s"])
        headers = tuple((str(k), str(v)) for k, v in meta["h"])
        stored_at = float(meta["t"])
        length = int(meta["n"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"unreadable entry metadata: {exc}") from exc
    body = data[meta_end + 1 :]
    if len(body) != length:
        raise CorruptEntry(f"entry body has {len(body)} bytes, expected {length}")
    return Entry(status=status, headers=headers, body=body, stored_at=stored_at)
