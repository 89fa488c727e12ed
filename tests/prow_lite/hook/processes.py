"""`prow-lite hook` as a real process (the command a user runs), for crash, restart and shutdown tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.servers import free_port


class HookProcess:
    """One `python -m prow_lite hook` on 127.0.0.1; restartable on the same port and data directory."""

    def __init__(self, *args: str, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.args = [sys.executable, "-m", "prow_lite", "hook", "--host", "127.0.0.1", "--port", str(self.port), *args]
        self.log_path = log_dir / f"hook-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> HookProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hook exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"hook did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no cleanup of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
