"""Go's `time.ParseDuration` (`90s`, `1h30m`, `1.5h`, `300ms`), the duration syntax of Prow configs."""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises ValueError naming what Go would reject."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    total, pos = 0.0, 0
    while pos < len(body):
        part = _PART.match(body, pos)
        if part is None:
            raise ValueError(f"invalid duration {text!r}: use a number and a unit (ns, us, ms, s, m, h), e.g. 1h30m")
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    return -total if text.startswith("-") else total
