"""Redis tier: entries shared by every replica, each under a TTL so abandoned partitions expire by themselves.

Keys are `{prefix}{partition}:{digest}`; the prefix carries the format version (`ghproxy:v1:`), so a new format never
reads an old one. Values are `ghproxy.entry.dumps` bytes. Timeouts are short and redis-py never retries: a slow or
dead Redis raises `StoreUnavailable` quickly, and `TieredStore` above decides what to do (serve from the other tiers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError

from ghproxy.cache.base import decode
from ghproxy.entry import Entry, dumps
from ghproxy.errors import ConfigError, GhproxyError

DEFAULT_PORT = 6379
DEFAULT_PREFIX = "ghproxy:v1:"
DEFAULT_TTL = 86400.0  # GitHub App installation tokens rotate hourly: their partitions are dead a day later
DEFAULT_MAX_ENTRY_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 0.25  # a cache read that takes longer is slower than asking upstream

_FORMS = "host:port, redis://[user:password@]host:port/db, rediss://..., /path/to.sock or unix:///path/to.sock?db=N"


class StoreUnavailable(GhproxyError):
    """Redis could not be reached, timed out, refused the credentials or failed a command."""


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where Redis is: a TCP host and port (TLS for `rediss://`) or a unix socket, plus a database number."""

    host: str | None = None
    port: int | None = None
    unix_socket: str | None = None
    db: int = 0
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """Where, without credentials: for log lines and error messages."""
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}?db={self.db}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{'rediss' if self.ssl else 'redis'}://{host}:{self.port}/{self.db}"


def parse_address(address: str) -> RedisAddress:
    """Parse `--redis-address`: `host:port` (as Go ghproxy), a `redis://` or `rediss://` URL, or a unix socket path.

    Raises ConfigError naming what is wrong and the accepted forms.
    """
    text = address.strip()
    if not text:
        raise ConfigError(f"--redis-address is empty; expected {_FORMS}")
    if text.startswith("/"):
        return RedisAddress(unix_socket=text)
    if "://" not in text:
        host, port = _host_port(text, text)
        return RedisAddress(host=host, port=port)
    scheme = text.split("://", 1)[0].lower()
    if scheme == "unix":
        return _parse_unix(text)
    if scheme in ("redis", "rediss"):
        return _parse_url(text, ssl=scheme == "rediss")
    raise ConfigError(f"--redis-address {text!r}: unknown scheme {scheme!r}; expected {_FORMS}")


def _host_port(text: str, address: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port`; the port defaults to 6379."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ConfigError(f"--redis-address {address!r}: unclosed '[' in an IPv6 address")
        if rest and not rest.startswith(":"):
            raise ConfigError(f"--redis-address {address!r}: expected ':port' after ']'")
        colon, port_text = rest[:1], rest[1:]
    elif text.count(":") > 1:
        raise ConfigError(f"--redis-address {address!r}: write an IPv6 address in brackets, as [::1]:6379")
    else:
        host, colon, port_text = text.partition(":")
    if not host or any(c.isspace() or c in "/@?#[]" for c in host):
        raise ConfigError(f"--redis-address {address!r}: no valid host; expected {_FORMS}")
    if not colon:
        return host, DEFAULT_PORT
    return host, _port(port_text, address)


def _port(text: str, address: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"--redis-address {address!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _db(text: str, address: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"--redis-address {address!r}: database {text!r} is not a non-negative integer")
    return int(text)


def _credentials(url: SplitResult) -> tuple[str | None, str | None]:
    username = unquote(url.username) if url.username else None
    password = unquote(url.password) if url.password is not None else None
    return username, password


def _parse_url(text: str, *, ssl: bool) -> RedisAddress:
    url = urlsplit(text)
    if url.query or url.fragment:
        raise ConfigError(
            f"--redis-address {text!r}: query parameters are not supported; put the database in the path (/0)"
        )
    netloc = url.netloc.rpartition("@")[2]
    if not netloc:
        raise ConfigError(f"--redis-address {text!r}: no host; expected {_FORMS}")
    host, port = _host_port(netloc, text)
    db_text = url.path.strip("/")
    username, password = _credentials(url)
    return RedisAddress(
        host=host,
        port=port,
        db=_db(db_text, text) if db_text else 0,
        ssl=ssl,
        username=username,
        password=password,
    )


def _parse_unix(text: str) -> RedisAddress:
    url = urlsplit(text)
    if url.hostname or url.port:
        raise ConfigError(f"--redis-address {text!r}: a unix socket URL has no host; write unix:///absolute/path.sock")
    if not url.path.startswith("/") or url.path == "/":
        raise ConfigError(f"--redis-address {text!r}: no socket path; write unix:///absolute/path.sock")
    query = parse_qs(url.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"db"})
    if unknown or url.fragment:
        raise ConfigError(f"--redis-address {text!r}: only ?db=N is supported after a unix socket path")
    db_values = query.get("db", ["0"])
    if len(db_values) != 1:
        raise ConfigError(f"--redis-address {text!r}: give db once")
    username, password = _credentials(url)
    return RedisAddress(unix_socket=unquote(url.path), db=_db(db_values[0], text), username=username, password=password)


def connect(
    address: RedisAddress,
    *,
    username: str | None,
    password: str | None,
    socket_timeout: float,
    socket_connect_timeout: float,
    max_connections: int,
    pool_timeout: float | None = None,
) -> Redis:
    """A client for one of ghproxy's Redis users (cache tier, shared throttle): short timeouts, no retries, RESP2."""
    connection: dict[str, Any] = {
        "db": address.db,
        "username": username or address.username,
        "password": password or address.password,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
        # No retries: one failure is reported at once and the caller decides (its breaker backs off a dead Redis).
        "retry": Retry(NoBackoff(), 0),
        # RESP2: every Redis and Redis-compatible server speaks it. redis-py 8 defaults to RESP3, which turns on
        # "maintenance notifications", and with them the pool skips its check for connections the server closed:
        # after a Redis restart each stale pooled connection would then fail one request.
        "protocol": 2,
    }
    connection_class: type[AbstractConnection]
    if address.unix_socket is not None:
        connection_class = UnixDomainSocketConnection
        connection["path"] = address.unix_socket
    else:
        connection_class = SSLConnection if address.ssl else Connection
        connection["host"] = address.host
        connection["port"] = address.port
    # Blocking pool: a burst beyond max_connections waits briefly for a free connection instead of failing.
    pool = BlockingConnectionPool(
        connection_class=connection_class,
        max_connections=max_connections,
        timeout=socket_timeout if pool_timeout is None else pool_timeout,
        **connection,
    )
    return Redis.from_pool(pool)


class RedisStore:
    """The `Store` protocol over a redis.asyncio connection pool.

    `username` and `password` (from `--redis-username` and `--redis-password-file`) override any in the URL.
    `set` writes nothing for an entry whose serialised form exceeds `max_entry_bytes` and deletes what the key held,
    so a stale smaller version is not served. Backend failures raise StoreUnavailable.
    """

    name = "redis"

    def __init__(
        self,
        address: str | RedisAddress,
        *,
        username: str | None = None,
        password: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        default_ttl: float = DEFAULT_TTL,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        max_connections: int = 50,
        socket_timeout: float = DEFAULT_TIMEOUT,
        socket_connect_timeout: float = DEFAULT_TIMEOUT,
        pool_timeout: float | None = None,
    ) -> None:
        self.address = parse_address(address) if isinstance(address, str) else address
        if not default_ttl > 0:
            raise ConfigError(f"Redis default TTL must be positive seconds, got {default_ttl}")
        if max_entry_bytes < 0:
            raise ConfigError(f"Redis max entry size must not be negative, got {max_entry_bytes}")
        if max_connections < 1:
            raise ConfigError(f"Redis max connections must be at least 1, got {max_connections}")
        if not (socket_timeout > 0 and socket_connect_timeout > 0):
            raise ConfigError("Redis timeouts must be positive seconds")
        self.prefix = prefix
        self.default_ttl = default_ttl
        self.max_entry_bytes = max_entry_bytes
        self._redis = connect(
            self.address,
            username=username,
            password=password,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            max_connections=max_connections,
            pool_timeout=pool_timeout,
        )

    def redis_key(self, key: str) -> str:
        """The Redis key of a cache key (`<partition>:<digest>`)."""
        return self.prefix + key

    async def get(self, key: str) -> Entry | None:
        rkey = self.redis_key(key)
        data: bytes | None = await self._call("GET", self._redis.get(rkey))
        if data is None:
            return None
        entry = decode(self.name, key, data)
        if entry is None:
            # A good value written in between is lost too; that costs one upstream fetch, never a wrong answer.
            await self._call("DEL", self._redis.delete(rkey))
        return entry

    async def set(self, key: str, entry: Entry, ttl: float | None = None) -> None:
        rkey = self.redis_key(key)
        seconds = self.default_ttl if ttl is None else ttl
        data = dumps(entry)
        if len(data) > self.max_entry_bytes or seconds <= 0:
            await self._call("DEL", self._redis.delete(rkey))
            return
        await self._call("SET", self._redis.set(rkey, data, px=max(1, math.ceil(seconds * 1000))))

    async def delete(self, key: str) -> None:
        await self._call("DEL", self._redis.delete(self.redis_key(key)))

    async def ping(self) -> bool:
        """True when Redis answers PING within the timeouts; never raises."""
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        """Disconnect every pooled connection."""
        await self._redis.aclose()

    async def _call(self, command: str, pending: Any) -> Any:
        """Await a redis-py command; its failures become StoreUnavailable naming the address, never the password."""
        try:
            return await pending
        except AuthenticationError as exc:
            raise StoreUnavailable(
                f"Redis at {self.address} refused the credentials ({exc}); check --redis-username and "
                "--redis-password-file"
            ) from exc
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis {command} at {self.address} failed: {type(exc).__name__}: {exc}") from exc
