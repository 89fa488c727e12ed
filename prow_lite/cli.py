"""The `prow-lite` command: one subcommand per component (`prow-lite hook ...`).

Each component module exposes `add_arguments(parser)` and `run(args) -> int`; add a line to `COMMANDS` for a new one.
Flags keep Prow's names, and Go's single-dash and `--flag=value` spellings work too.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ghproxy import goflags

# subcommand -> (module with add_arguments and run, one-line description)
COMMANDS = {
    "hook": ("prow_lite.hook.command", "the webhook server: validates GitHub events, queues them, runs the plugins"),
}


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the flag, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> OneLineParser:
    p = OneLineParser(prog="prow-lite", description="A lean Prow whose GitHub client talks only to ghproxy.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name, (module, summary) in COMMANDS.items():
        component = importlib.import_module(module)
        component.add_arguments(sub.add_parser(name, help=summary, description=summary))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(goflags.go_style(sys.argv[1:] if argv is None else argv))
    module, _ = COMMANDS[args.command]
    code: int = importlib.import_module(module).run(args)
    return code
