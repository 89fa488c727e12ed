"""The durable event queue: every accepted delivery is a SQLite row before hook answers 200.

A row is `queued` until its handlers have all run (`done`) or it has failed `max_attempts` times (`failed`, with the
error). Rows still `queued` after a crash are run again at startup, so each delivery is handled at least once, and
the handlers are idempotent, so at least once is exactly once in effect. A delivery id seen before is refused by
`put()`: GitHub's redelivery of an event already queued changes nothing. `done` rows are pruned after a retention
period (longer than the 3 days for which GitHub offers to redeliver).

`Schedule` decides what may run: deliveries with the same key (the pull request or issue, `events.pr_key`) run one
at a time in arrival order, different keys in parallel.
"""

from __future__ import annotations

import bisect
import heapq
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from prow_lite.db import Database

SCHEMA_VERSION = 1
RETENTION_S = 7 * 24 * 3600.0

_SCHEMA = """
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    guid TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    key TEXT NOT NULL,
    payload BLOB NOT NULL,
    headers TEXT NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    done_steps TEXT NOT NULL DEFAULT '[]',
    error TEXT NOT NULL DEFAULT '',
    finished_at REAL
);
CREATE INDEX deliveries_by_state ON deliveries (state, seq);
CREATE INDEX deliveries_finished ON deliveries (state, finished_at)
"""


class State(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One accepted webhook delivery, as received."""

    guid: str
    event_type: str
    key: str  # what it is serialised on
    payload: bytes  # the body byte for byte (external plugins get exactly what GitHub signed)
    headers: Mapping[str, str]  # the X-GitHub-* headers it came with
    received_at: float
    attempts: int = 0
    done_steps: frozenset[str] = frozenset()  # handler steps that succeeded on an earlier attempt


@dataclass(frozen=True, slots=True, order=True)
class Ticket:
    """A queued delivery as the schedule sees it (no payload)."""

    seq: int
    guid: str = field(compare=False)
    key: str = field(compare=False)
    not_before: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    guid: str
    event_type: str
    key: str
    attempts: int
    error: str
    finished_at: float


class DeliveryQueue(Database):
    """Deliveries in SQLite. One hook process owns a queue file; calls may come from any one thread at a time."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA, SCHEMA_VERSION, "event queue")

    def put(self, delivery: Delivery) -> Ticket | None:
        """Store a delivery (committed to disk when this returns); None when its guid was seen before."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO deliveries (guid, event_type, key, payload, headers, received_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.guid,
                    delivery.event_type,
                    delivery.key,
                    delivery.payload,
                    json.dumps(dict(delivery.headers)),
                    delivery.received_at,
                    State.QUEUED,
                ),
            )
            if cur.rowcount != 1:
                return None
            seq = cur.lastrowid
        assert seq is not None
        return Ticket(seq, delivery.guid, delivery.key)

    def queued(self) -> list[Ticket]:
        """Every queued delivery in arrival order (what a restart runs again)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, guid, key, not_before FROM deliveries WHERE state = ? ORDER BY seq", (State.QUEUED,)
            ).fetchall()
        return [Ticket(*row) for row in rows]

    def load(self, guid: str) -> Delivery | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT guid, event_type, key, payload, headers, received_at, attempts, done_steps "
                "FROM deliveries WHERE guid = ?",
                (guid,),
            ).fetchone()
        if row is None:
            return None
        guid, event_type, key, payload, headers, received_at, attempts, done_steps = row
        return Delivery(
            guid, event_type, key, bytes(payload), json.loads(headers), received_at, attempts,
            frozenset(json.loads(done_steps)),
        )  # fmt: skip

    def state_of(self, guid: str) -> State | None:
        with self._lock:
            row = self._conn.execute("SELECT state FROM deliveries WHERE guid = ?", (guid,)).fetchone()
        return State(row[0]) if row else None

    def finish(self, guid: str, *, attempts: int, now: float) -> None:
        """Mark a delivery done after `attempts` attempts: every handler step has run."""
        with self._write() as conn:
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, finished_at = ?, error = '' WHERE guid = ?",
                (State.DONE, attempts, now, guid),
            )

    def retry(self, guid: str, *, attempts: int, not_before: float, error: str, done_steps: frozenset[str]) -> None:
        """Keep a delivery queued for another attempt after `not_before`, remembering the steps that succeeded."""
        with self._write() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = ?, not_before = ?, error = ?, done_steps = ? WHERE guid = ?",
                (attempts, not_before, error, json.dumps(sorted(done_steps)), guid),
            )

    def fail(self, guid: str, *, attempts: int, error: str, done_steps: frozenset[str], now: float) -> None:
        """Give up on a delivery; it stays (with its error) until pruned."""
        with self._write() as conn:
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, error = ?, done_steps = ?, finished_at = ? "
                "WHERE guid = ?",
                (State.FAILED, attempts, error, json.dumps(sorted(done_steps)), now, guid),
            )

    def prune(self, *, before: float) -> int:
        """Delete done and failed rows finished before `before`; returns how many."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM deliveries WHERE state != ? AND finished_at < ?", (State.QUEUED, before))
            return cur.rowcount

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT state, count(*) FROM deliveries GROUP BY state").fetchall()
        return {str(state): 0 for state in State} | dict(rows)

    def failed(self, limit: int = 50) -> list[FailedDelivery]:
        """The most recently failed deliveries, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT guid, event_type, key, attempts, error, finished_at FROM deliveries WHERE state = ? "
                "ORDER BY finished_at DESC LIMIT ?",
                (State.FAILED, limit),
            ).fetchall()
        return [FailedDelivery(*row) for row in rows]


class Schedule:
    """Which queued deliveries may start: per key one at a time and in arrival order; keys in parallel.

    Pure bookkeeping: callers pass `now` and do the running.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, deque[Ticket]] = {}
        self._running: set[str] = set()

    def __len__(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    @property
    def running(self) -> int:
        return len(self._running)

    def add(self, ticket: Ticket) -> None:
        q = self._waiting.setdefault(ticket.key, deque())
        if q and q[-1].seq > ticket.seq:
            bisect.insort(q, ticket, lo=1 if ticket.key in self._running else 0)
        else:
            q.append(ticket)

    def take(self, now: float, limit: int) -> list[Ticket]:
        """Up to `limit` deliveries to start now (oldest first): heads of keys with nothing running, due by `now`."""
        if limit <= 0:
            return []
        heads = [q[0] for key, q in self._waiting.items() if key not in self._running and q[0].not_before <= now]
        chosen = heapq.nsmallest(limit, heads)
        self._running.update(t.key for t in chosen)
        return chosen

    def release(self, ticket: Ticket, *, retry_at: float | None = None) -> None:
        """A started delivery ended: it leaves the queue, or stays at its key's head until `retry_at`."""
        self._running.discard(ticket.key)
        q = self._waiting[ticket.key]
        if retry_at is not None:
            q[0] = Ticket(ticket.seq, ticket.guid, ticket.key, retry_at)
            return
        q.popleft()
        if not q:
            del self._waiting[ticket.key]

    def next_due(self) -> float | None:
        """When the earliest delivery held back by a retry delay becomes due (None if none is held back)."""
        times = [q[0].not_before for key, q in self._waiting.items() if key not in self._running]
        return min(times) if times else None
