"""The `ghsim` command: one flag per SimConfig field, plus --host and --port."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Sequence

from aiohttp import web

from ghsim.app import make_app
from ghsim.config import SimConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ghsim", description="A GitHub REST API simulator with GitHub's accounting.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="port to listen on (default 9000)")
    defaults = SimConfig()
    for f in dataclasses.fields(SimConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        elif f.name == "api_url":
            p.add_argument(flag, dest=f.name, default=None, help="base URL for url fields (default: from Host)")
        elif default is None:
            p.add_argument(flag, dest=f.name, default=None, help="default: unset")
        else:
            kind = float if f.type in ("float", float) else type(default)
            p.add_argument(flag, dest=f.name, type=kind, default=default, help=f"default {default}")
    return p


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)})


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed, so the simulator is not the bottleneck of a benchmark."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    web.run_app(
        make_app(config_from(args)),
        host=args.host,
        port=args.port,
        access_log=None,
        loop=_new_loop(),
    )
    return 0
