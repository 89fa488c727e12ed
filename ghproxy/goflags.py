"""Go flag compatibility shared by the project's commands (`ghproxy`, `prow-lite`): Go's `-flag` spelling, its
boolean values and logrus level names, ports."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

LEVELS = ("debug", "info", "warning", "error")
# Go's logrus levels map onto Python's so Go deployments' --log-level keeps working.
GO_LEVELS = {"trace": "debug", "warn": "warning", "fatal": "error", "panic": "error"}


def go_style(argv: Sequence[str]) -> list[str]:
    """Go's flag package takes `-port=1`; argparse wants `--port=1`. Accept both."""
    return [("-" + a) if re.match(r"^-[a-zA-Z][\w-]+", a) else a for a in argv]


def boolean(value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true", "yes"):
        return True
    if low in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def port(value: str) -> int:
    """A port number; 0 is allowed (commands say what it means: off, or any free port)."""
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {value}")
    return number


def log_level(value: str) -> str | None:
    """The Python level for a level name (Go's names too); None when it is not one."""
    low = value.lower()
    low = GO_LEVELS.get(low, low)
    return low if low in LEVELS else None
