"""A real redis-server for tests, on a free 127.0.0.1 port or a unix socket in a temporary directory.

Each server is started by the test that uses it and never persists anything (`--save "" --appendonly no`). Tests
never touch a Redis they did not start (such as one on 127.0.0.1:6379).

Fixtures (import them into a conftest): `start_redis(**options)` starts servers that are all stopped when the test
ends; `redis_server` is one TCP server without authentication.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.support.servers import free_port

STARTUP_TIMEOUT = 10.0
DEFAULT_REDIS_PORT = 6379  # someone else's Redis may listen there: never ours


def redis_server_binary() -> str:
    """The redis-server executable, or a skip saying how to get one."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server); the Redis tier tests need a real one")
    return binary


class RedisServer:
    """One redis-server process that a test owns: start, kill -9, start again on the same address, stop.

    With `username` and `password` the default user is switched off and only that ACL user can connect; with just
    `password` the default user needs it (`requirepass`).
    """

    def __init__(
        self,
        *,
        unix_socket: bool = False,
        username: str | None = None,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if username is not None and password is None:
            raise ValueError("an ACL user needs a password here")
        self.binary = redis_server_binary()
        self.username = username
        self.password = password
        self.extra_args = extra_args
        # Short fixed prefix in /tmp: unix socket paths must stay under ~100 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="ghp-redis-"))
        self.unix_socket: str | None = str(self.dir / "redis.sock") if unix_socket else None
        self.port = 0 if unix_socket else free_port()
        if self.port == DEFAULT_REDIS_PORT:
            raise RuntimeError("free_port() returned 6379; refusing to run next to a real Redis")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """An address without credentials: `redis://127.0.0.1:PORT/0` or `unix:///path/redis.sock`."""
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("redis-server is not running")
        return self._proc.pid

    @property
    def log_file(self) -> Path:
        return self.dir / "redis.log"

    def args(self) -> list[str]:
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--logfile", str(self.log_file),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
        ]  # fmt: skip
        if self.unix_socket is not None:
            args += ["--unixsocket", self.unix_socket, "--unixsocketperm", "700"]
        if self.username is not None:
            assert self.password is not None
            user = [self.username, "on", f">{self.password}", "~*", "&*", "+@all"]
            args += ["--user", "default", "off", "--user", *user]
        elif self.password is not None:
            args += ["--requirepass", self.password]
        return [*args, *self.extra_args]

    def client(self) -> redis.Redis:
        """A plain synchronous client with the server's credentials, for tests to inspect or tamper with data."""
        if self.unix_socket is not None:
            return redis.Redis(
                unix_socket_path=self.unix_socket, username=self.username, password=self.password, socket_timeout=2.0
            )
        return redis.Redis(
            host="127.0.0.1", port=self.port, username=self.username, password=self.password, socket_timeout=2.0
        )

    def start(self) -> RedisServer:
        """Start (or start again, on the same port or socket) and wait until it answers PING."""
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError("redis-server is already running")
        if self.unix_socket is not None and os.path.exists(self.unix_socket):
            os.unlink(self.unix_socket)  # left behind by kill -9
        self._proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {self._log_tail()}")
            try:
                with self.client() as c:
                    if c.ping():
                        return self
            except redis.RedisError as exc:
                last_error = exc
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"redis-server did not answer PING within {STARTUP_TIMEOUT}s ({last_error}): {self._log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL, as `kill -9`: no shutdown, connections drop; `start()` brings it back (empty)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(5)

    def pause(self) -> None:
        """SIGSTOP: the process is alive and its port accepts connections, but nothing answers (a hung Redis)."""
        self._proc_running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._proc_running().send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the server and remove its temporary directory; safe to call twice.

        SIGKILL, not SIGTERM: nothing is persisted, and redis-server acts on SIGTERM only at its next cron tick
        (up to 100 ms), which across a suite of per-test servers adds up.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _proc_running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("redis-server is not running")
        return self._proc

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


StartRedis = Callable[..., RedisServer]


@pytest.fixture
def start_redis() -> Iterator[StartRedis]:
    """Start redis-servers (keywords as `RedisServer`); all are stopped when the test ends."""
    started: list[RedisServer] = []

    def start(
        *,
        unix_socket: bool = False,
        username: str | None = None,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> RedisServer:
        server = RedisServer(unix_socket=unix_socket, username=username, password=password, extra_args=extra_args)
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def redis_server(start_redis: StartRedis) -> RedisServer:
    """A fresh, empty redis-server on a free 127.0.0.1 port, without authentication."""
    return start_redis()
