"""SQLite as prow_lite's stores open it: WAL, durable commits, a versioned schema, one error type."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_S = 30.0


class StoreError(Exception):
    """A store's database cannot be used (a schema from another version, a damaged or unreadable file)."""


def open_database(path: Path, schema: str, version: int, what: str) -> sqlite3.Connection:
    """A connection in autocommit mode (writers take `BEGIN IMMEDIATE`) to a WAL database at schema `version`.

    synchronous=FULL: a transaction is in the WAL on disk when COMMIT returns, so it survives kill -9 and power
    loss. Several processes may open the same file at once; the first creates the schema.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: cannot open the {what} database ({exc})") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found == 0:
                for statement in schema.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")
            elif found != version:
                raise StoreError(f"{path}: {what} schema version {found}, this prow_lite reads version {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable {what} database ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


class Database:
    """One connection to a store's file, shared by this process's threads one at a time; writes in immediate
    transactions, so several processes can share the file."""

    def __init__(self, path: str | Path, schema: str, version: int, what: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = open_database(self.path, schema, version, what)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
