"""The `prow-lite` command: one subcommand per component."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("prow-lite: no components yet", file=sys.stderr)
    return 2
