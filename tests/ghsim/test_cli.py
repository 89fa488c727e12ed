"""Flags map one to one onto SimConfig."""

from __future__ import annotations

import dataclasses

from ghsim.cli import config_from, parser
from ghsim.config import SimConfig


def test_defaults_match_simconfig() -> None:
    assert config_from(parser().parse_args([])) == SimConfig()


def test_flags() -> None:
    args = parser().parse_args(
        [
            "--port",
            "9001",
            "--seed",
            "7",
            "--latency-ms",
            "50",
            "--jitter-ms",
            "5",
            "--no-secondary-limits",
            "--api-url",
            "http://x:1",
            "--core-limit",
            "10",
        ]
    )
    cfg = config_from(args)
    assert (args.port, args.host) == (9001, "127.0.0.1")
    assert dataclasses.replace(cfg) == SimConfig(
        seed=7, latency_ms=50.0, jitter_ms=5.0, secondary_limits=False, api_url="http://x:1", core_limit=10
    )
