"""`--workers N`: N proxy processes on one port (SO_REUSEPORT), supervised by the parent.

Each worker has its own memory tier and shares the disk tier (diskcache is process-safe) and Redis. The kernel
spreads connections across workers. Worker i serves metrics on `--metrics-port + i`, so each can be scraped.
A worker that dies is started again; SIGTERM or SIGINT to the parent drains every worker.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import time
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from ghproxy import logs
from ghproxy.server import serve
from ghproxy.settings import Settings

log = logging.getLogger("ghproxy.workers")


def worker_settings(settings: Settings, index: int) -> Settings:
    return replace(
        settings,
        workers=1,
        reuse_port=True,
        metrics_port=settings.metrics_port + index if settings.metrics_port else 0,
    )


def _worker_main(settings: Settings) -> None:
    logs.setup(settings.log_level)
    from ghproxy.cli import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(settings))


def run(settings: Settings) -> int:
    ctx = multiprocessing.get_context("spawn")
    procs: dict[int, BaseProcess] = {}
    stopping = False

    def start(index: int) -> None:
        proc = ctx.Process(target=_worker_main, args=(worker_settings(settings, index),), name=f"ghproxy-{index}")
        proc.start()
        procs[index] = proc

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.is_alive():
                proc.terminate()  # SIGTERM: the worker drains its in-flight requests

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for i in range(settings.workers):
        start(i)
    log.info("workers started", extra={"workers": settings.workers, "port": settings.port})
    while not stopping:
        wait([p.sentinel for p in procs.values()], timeout=1.0)
        for index, proc in list(procs.items()):
            if not proc.is_alive() and not stopping:
                log.warning("worker exited; starting it again", extra={"worker": index, "exitcode": proc.exitcode})
                time.sleep(0.5)  # do not spin if a worker cannot start at all
                start(index)
    for proc in procs.values():
        proc.join(settings.request_timeout + 5)
    return 0
