"""The state one simulator app keeps: config, dataset, limit state per token and the ledger."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiohttp import web

from ghsim.accounting import TokenState
from ghsim.config import SimConfig
from ghsim.ledger import Ledger
from ghsim.store import Dataset


@dataclass(slots=True)
class SimState:
    config: SimConfig
    data: Dataset
    ledger: Ledger = field(default_factory=Ledger)
    limits: dict[str, TokenState] = field(default_factory=dict)  # token as sent ("" anonymous) -> state
    rng: random.Random = field(default_factory=random.Random)
    request_counter: int = 0

    def reset(self) -> None:
        """Zero the ledger and every limit; the data stays as it is."""
        self.ledger = Ledger()
        self.limits = {}


STATE = web.AppKey("ghsim_state", SimState)
