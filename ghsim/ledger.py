"""What the simulator counted: per-token totals, a bounded request log and distinct representations."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

REQUEST_LOG_SIZE = 100_000
COUNTERS = ("requests", "charged", "free_304", "secondary_limited", "primary_limited", "max_inflight")


@dataclass(slots=True)
class TokenCounts:
    requests: int = 0
    charged: int = 0
    free_304: int = 0
    secondary_limited: int = 0
    primary_limited: int = 0
    max_inflight: int = 0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    t: float
    method: str
    path: str  # path and query
    token: str
    status: int
    charged: bool
    free_304: bool
    secondary_limited: bool
    primary_limited: bool


@dataclass(slots=True)
class Ledger:
    tokens: dict[str, TokenCounts] = field(default_factory=dict)
    log: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    representations: set[tuple[str, str]] = field(default_factory=set)
    mints: dict[int, int] = field(default_factory=dict)  # installation id -> installation tokens minted

    def counts(self, token: str) -> TokenCounts:
        return self.tokens.setdefault(token, TokenCounts())

    def record(self, rec: RequestRecord) -> None:
        c = self.counts(rec.token)
        c.requests += 1
        c.charged += rec.charged
        c.free_304 += rec.free_304
        c.secondary_limited += rec.secondary_limited
        c.primary_limited += rec.primary_limited
        self.log.append(rec)

    def mint(self, installation_id: int) -> None:
        self.mints[installation_id] = self.mints.get(installation_id, 0) + 1

    def inflight(self, token: str, now_inflight: int) -> None:
        c = self.counts(token)
        c.max_inflight = max(c.max_inflight, now_inflight)

    def as_json(self) -> dict[str, Any]:
        tokens = {t: asdict(c) for t, c in self.tokens.items()}
        totals = {k: sum(c[k] for c in tokens.values()) for k in COUNTERS}
        mints = {str(i): n for i, n in self.mints.items()}
        return {"tokens": tokens, "totals": totals, "mints": mints}

    def requests_json(self) -> dict[str, Any]:
        return {"requests": [asdict(r) for r in self.log]}
