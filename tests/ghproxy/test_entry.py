"""Versioned entry serialisation: anything that is not a whole entry of this version is a miss, never a crash."""

from __future__ import annotations

import pytest

from ghproxy.entry import FORMAT, CorruptEntry, Entry, dumps, loads

E = Entry(
    status=200,
    headers=(("ETag", '"a"'), ("Vary", "Accept"), ("Vary", "Authorization")),
    body=b"\x00{}\xff",
    stored_at=12.5,
)


def test_round_trip() -> None:
    assert loads(dumps(E)) == E


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage",
        b"ghp0\n{}\n",  # another format version
        dumps(E)[:-1],  # truncated body
        dumps(E)[:12],  # truncated metadata
        FORMAT + b"{not json}\n",
        FORMAT + b'{"s": 200}\n',
    ],
)
def test_corrupt_is_reported(data: bytes) -> None:
    with pytest.raises(CorruptEntry):
        loads(data)


def test_revalidated_merges_headers_and_keeps_body() -> None:
    fresh = E.revalidated((("ETag", '"a"'), ("X-RateLimit-Remaining", "3")), now=99.0)
    assert fresh.body == E.body
    assert fresh.stored_at == 99.0
    assert ("X-RateLimit-Remaining", "3") in fresh.headers
