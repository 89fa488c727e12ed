"""ghproxy as a real process (the console script a user runs), for tests that need several or a restart."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port


class ProxyProcess:
    def __init__(self, upstream: str, *args: str, log_dir: Path) -> None:
        # --workers N serves metrics on metrics_port + i: keep a few ports above it free and apart from the others
        self.metrics_port = _free_run(4)
        self.port, self.health_port = free_port(), free_port()
        while {self.port, self.health_port} & set(
            range(self.metrics_port, self.metrics_port + 4)
        ) or self.port == self.health_port:
            self.port, self.health_port = free_port(), free_port()
        self.args = [
            sys.executable, "-m", "ghproxy", "--host", "127.0.0.1", "--upstream", upstream,
            "--port", str(self.port), "--metrics-port", str(self.metrics_port),
            "--health-port", str(self.health_port), *args,
        ]  # fmt: skip
        self.log_path = log_dir / f"ghproxy-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> ProxyProcess:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ghproxy exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"ghproxy did not become ready:\n{self.log()}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            text: str = resp.read().decode()
            return text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def _free_run(length: int) -> int:
    """The first of `length` consecutive free ports on 127.0.0.1."""
    while True:
        first = free_port()
        if first + length > 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + length):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue


StartProxyProcess = Callable[..., ProxyProcess]


@pytest.fixture
def start_proxy_process(tmp_path: Path) -> Iterator[StartProxyProcess]:
    """`start_proxy_process(upstream, *flags)` runs `python -m ghproxy`; every one is stopped at the end."""
    started: list[ProxyProcess] = []

    def start(upstream: str, *args: str) -> ProxyProcess:
        proc = ProxyProcess(upstream, *args, log_dir=tmp_path).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
