"""The state one simulator app keeps: config, dataset, limit state per token, the ledger and the GitHub Apps."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiohttp import web

from ghsim.accounting import TokenState
from ghsim.apps import AppRegistry
from ghsim.config import SimConfig
from ghsim.ledger import Ledger
from ghsim.store import Dataset
from ghsim.webhooks import Hooks


@dataclass(slots=True)
class SimState:
    config: SimConfig
    data: Dataset
    ledger: Ledger = field(default_factory=Ledger)
    limits: dict[str, TokenState] = field(default_factory=dict)  # token as sent ("" anonymous) -> state
    rng: random.Random = field(default_factory=random.Random)
    request_counter: int = 0
    hooks: Hooks = field(default_factory=Hooks)  # webhook receiver, delivery log and queue
    apps: AppRegistry = field(default_factory=AppRegistry)  # GitHub Apps, installations, installation tokens

    def reset(self) -> None:
        """Zero the ledger (mint counts too) and every limit; the data and minted tokens stay as they are."""
        self.ledger = Ledger()
        self.limits = {}


STATE = web.AppKey("ghsim_state", SimState)
