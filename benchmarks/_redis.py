"""A redis-server of the benchmark's own, on a free 127.0.0.1 port, persisting nothing.

Never a Redis someone else runs (such as one on 127.0.0.1:6379): the benchmark flushes and measures its server.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from benchmarks.latency import free_port

DEFAULT_REDIS_PORT = 6379


@contextmanager
def redis_server(timeout: float = 10.0) -> Iterator[tuple[str, redis.Redis]]:
    """Start redis-server; yields its `redis://127.0.0.1:PORT/0` address and a synchronous client; stops it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    if port == DEFAULT_REDIS_PORT:
        raise RuntimeError("free_port() returned 6379; refusing to run next to a real Redis")
    directory = Path(tempfile.mkdtemp(prefix="ghp-bench-redis-"))
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
    args += ["--logfile", str(directory / "redis.log"), "--save", "", "--appendonly", "no", "--daemonize", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=30.0)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server on port {port} did not start; see {directory}/redis.log"
                    ) from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(directory, ignore_errors=True)
