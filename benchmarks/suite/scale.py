"""How big and how fast one run of the suite is: the full run, `--quick`, and `--tiny` (for the smoke test)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scale:
    """Workload sizes and pacing; `speed` > 1 runs GitHub's limits and the pacing that many times faster.

    Pacing fields are in seconds at speed 1; the plans divide them by `speed`. ghsim and ghproxy get the same
    factor (points a minute times `speed`, mutation spacing and Go's spacing divided by it).
    """

    name: str
    speed: float
    repos: int  # prow-steady repositories (the last one private)
    ticks: int  # prow-steady rounds
    tick_s: float  # between the starts of two rounds
    changes_per_tick: int
    herd_clients: int
    herd_rounds: int
    herd_round_s: float
    writers: int
    writes: int
    components: int  # app-rotation
    rotations: int
    polls: int  # app-rotation polling rounds per rotation
    rotation_paths: int
    token_ttl_s: int  # app-rotation: real seconds an installation token lives (never scaled: it is the "hour")


FULL = Scale(
    name="full",
    speed=1.0,
    repos=8,
    ticks=16,
    tick_s=5.0,
    changes_per_tick=4,
    herd_clients=150,
    herd_rounds=4,
    herd_round_s=12.0,
    writers=20,
    writes=60,
    components=3,
    rotations=6,
    polls=3,
    rotation_paths=10,
    token_ttl_s=6,
)
QUICK = Scale(
    name="quick",
    speed=10.0,
    repos=4,
    ticks=10,
    tick_s=5.0,
    changes_per_tick=3,
    herd_clients=120,
    herd_rounds=3,
    herd_round_s=12.0,
    writers=20,
    writes=50,
    components=3,
    rotations=3,
    polls=2,
    rotation_paths=8,
    token_ttl_s=2,
)
TINY = Scale(
    name="tiny",
    speed=20.0,
    repos=2,
    ticks=4,
    tick_s=5.0,
    changes_per_tick=2,
    herd_clients=110,
    herd_rounds=2,
    herd_round_s=10.0,
    writers=6,
    writes=12,
    components=2,
    rotations=2,
    polls=1,
    rotation_paths=4,
    token_ttl_s=2,
)
SCALES = {s.name: s for s in (FULL, QUICK, TINY)}
