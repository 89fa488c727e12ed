"""The Redis tier against a real redis-server that each test starts (never a Redis already running here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from ghproxy.cache.base import Store
from ghproxy.cache.redis import DEFAULT_PREFIX, RedisAddress, RedisStore, StoreUnavailable, parse_address
from ghproxy.entry import dumps
from ghproxy.errors import ConfigError
from tests.ghproxy.cache.contract import DIGEST, PART_A, PART_B, StoreContract, entry, key
from tests.support.redis import RedisServer, StartRedis

MakeStore = Callable[..., RedisStore]


@pytest.fixture
async def make_store() -> AsyncIterator[MakeStore]:
    """RedisStore instances (same arguments as the constructor), all closed when the test ends."""
    stores: list[RedisStore] = []

    def make(*args: object, **kwargs: object) -> RedisStore:
        store = RedisStore(*args, **kwargs)  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


class TestRedisContract(StoreContract):
    """Over TCP on 127.0.0.1."""

    @pytest.fixture
    def server(self, start_redis: StartRedis) -> RedisServer:
        return start_redis()

    @pytest.fixture
    def store(self, server: RedisServer, make_store: MakeStore) -> RedisStore:
        self.server = server
        return make_store(server.url)

    async def corrupt(self, store: Store, key: str, data: bytes) -> None:
        assert isinstance(store, RedisStore)
        with self.server.client() as raw:
            raw.set(store.redis_key(key), data)


class TestRedisUnixSocketContract(TestRedisContract):
    """Over a unix socket (`unix:///path`), as a Redis sidecar is often reached."""

    @pytest.fixture
    def server(self, start_redis: StartRedis) -> RedisServer:
        return start_redis(unix_socket=True)


# --- what is stored, and where


async def test_keys_are_prefixed_and_carry_the_partition(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    await store.set(key(PART_A), entry())
    await store.set(key(PART_B), entry())
    with redis_server.client() as raw:
        keys = {k.decode() for k in raw.scan_iter(match="*")}
        assert keys == {f"ghproxy:v1:{PART_A}:{DIGEST}", f"ghproxy:v1:{PART_B}:{DIGEST}"}
        # the value is the versioned entry serialisation every replica reads
        assert raw.get(f"{DEFAULT_PREFIX}{PART_A}:{DIGEST}") == dumps(entry())


async def test_another_prefix_never_reads_this_one(redis_server: RedisServer, make_store: MakeStore) -> None:
    v1 = make_store(redis_server.url)
    v2 = make_store(redis_server.url, prefix="ghproxy:v2:")
    await v1.set(key(), entry())
    assert await v2.get(key()) is None
    await v2.delete(key())
    assert await v1.get(key()) == entry()


async def test_database_number_from_the_url(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url.removesuffix("/0") + "/3")
    await store.set(key(), entry())
    with redis_server.client() as raw:
        assert raw.dbsize() == 0
        raw.select(3)
        assert raw.exists(store.redis_key(key())) == 1


async def test_corrupt_value_is_deleted(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    with redis_server.client() as raw:
        raw.set(store.redis_key(key()), b"garbage")
        assert await store.get(key()) is None
        assert raw.exists(store.redis_key(key())) == 0


# --- TTL: partitions nobody uses any more expire by themselves


async def test_every_set_has_a_ttl(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url, default_ttl=3600)
    with redis_server.client() as raw:
        await store.set(key(), entry())
        assert 3_590_000 < raw.pttl(store.redis_key(key())) <= 3_600_000
        await store.set(key(), entry(), ttl=60)
        assert 50_000 < raw.pttl(store.redis_key(key())) <= 60_000
        await store.set(key(), entry())  # an overwrite sets the TTL again
        assert raw.pttl(store.redis_key(key())) > 3_590_000


async def test_default_ttl_is_a_day(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    await store.set(key(), entry())
    with redis_server.client() as raw:
        assert 86_390_000 < raw.pttl(store.redis_key(key())) <= 86_400_000


async def test_non_positive_ttl_stores_nothing(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    await store.set(key(), entry())
    await store.set(key(), entry(), ttl=0)
    assert await store.get(key()) is None


# --- size cap


async def test_entries_over_max_entry_bytes_are_not_written(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url, max_entry_bytes=1000)
    small, large = entry(body=b"s" * 100), entry(body=b"L" * 1000)
    await store.set(key(), small)
    assert await store.get(key()) == small
    await store.set(key(), large)  # the older, smaller value must not be served for it
    assert await store.get(key()) is None
    await store.set(key(PART_B), large)
    with redis_server.client() as raw:
        assert raw.dbsize() == 0


async def test_default_max_entry_is_two_mib(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    fits = entry(body=b"x" * (2 * 1024 * 1024 - 1024))
    too_big = entry(body=b"x" * (2 * 1024 * 1024))
    await store.set(key(), fits)
    await store.set(key(PART_B), too_big)
    assert await store.get(key()) == fits
    assert await store.get(key(PART_B)) is None


# --- authentication


async def test_acl_user_and_password(start_redis: StartRedis, make_store: MakeStore) -> None:
    server = start_redis(username="ghproxy", password="s3cret")
    store = make_store(server.url, username="ghproxy", password="s3cret")
    await store.set(key(), entry())
    assert await store.get(key()) == entry()
    assert await store.ping()
    # credentials in the URL work too; explicit ones (from the flags) win over them
    in_url = make_store(f"redis://ghproxy:s3cret@127.0.0.1:{server.port}/0")
    assert await in_url.get(key()) == entry()
    overridden = make_store(f"redis://ghproxy:wrong@127.0.0.1:{server.port}/0", password="s3cret")
    assert await overridden.get(key()) == entry()


async def test_wrong_password_raises_on_use(start_redis: StartRedis, make_store: MakeStore) -> None:
    server = start_redis(username="ghproxy", password="s3cret")
    store = make_store(server.url, username="ghproxy", password="not-it")
    with pytest.raises(StoreUnavailable, match="--redis-password-file") as raised:
        await store.get(key())
    assert "not-it" not in str(raised.value)
    with pytest.raises(StoreUnavailable):
        await store.set(key(), entry())
    assert not await store.ping()
    anonymous = make_store(server.url)
    with pytest.raises(StoreUnavailable):
        await anonymous.get(key())


async def test_requirepass_without_username(start_redis: StartRedis, make_store: MakeStore) -> None:
    server = start_redis(password="pw")
    store = make_store(server.url, password="pw")
    await store.set(key(), entry())
    assert await store.get(key()) == entry()


# --- a dead or hung Redis fails fast, and the same store recovers


async def test_killed_server_raises_promptly_and_the_store_recovers_after_restart(
    redis_server: RedisServer, make_store: MakeStore
) -> None:
    store = make_store(redis_server.url)
    await asyncio.gather(*(store.set(key(digest=f"{i:064d}"), entry()) for i in range(10)))  # several pooled
    redis_server.kill()
    for op in (lambda: store.get(key()), lambda: store.set(key(), entry()), lambda: store.delete(key())):
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await op()
        assert time.monotonic() - started < 0.3
    assert not await store.ping()

    redis_server.start()  # same port, empty (nothing is persisted)
    assert await store.ping()
    assert await store.get(key()) is None
    await asyncio.gather(*(store.set(key(digest=f"{i:064d}"), entry()) for i in range(10)))
    assert await store.get(key(digest=f"{9:064d}")) == entry()


async def test_hung_server_times_out_within_the_socket_timeout(
    redis_server: RedisServer, make_store: MakeStore
) -> None:
    store = make_store(redis_server.url, socket_timeout=0.1)
    await store.set(key(), entry())
    redis_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Timeout"):
            await store.get(key())
        assert 0.05 < time.monotonic() - started < 0.4
    finally:
        redis_server.resume()
    assert await store.get(key()) == entry()


async def test_pool_is_bounded_and_a_burst_waits_for_a_connection(
    redis_server: RedisServer, make_store: MakeStore
) -> None:
    store = make_store(redis_server.url, max_connections=2)
    await asyncio.gather(*(store.set(key(digest=f"{i:064d}"), entry()) for i in range(40)))
    with redis_server.client() as raw:
        clients = raw.client_list()
        assert len(clients) <= 3  # the store's two and this one
        assert raw.dbsize() == 40


async def test_close_disconnects_the_pool(redis_server: RedisServer, make_store: MakeStore) -> None:
    store = make_store(redis_server.url)
    await asyncio.gather(*(store.get(key(digest=f"{i:064d}")) for i in range(5)))
    await store.close()
    with redis_server.client() as raw:
        for _ in range(50):  # the server notices closed sockets on its next event loop turn
            if len(raw.client_list()) == 1:
                break
            await asyncio.sleep(0.01)
        assert len(raw.client_list()) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"default_ttl": 0},
        {"max_entry_bytes": -1},
        {"max_connections": 0},
        {"socket_timeout": 0},
        {"socket_connect_timeout": -1},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RedisStore("127.0.0.1:1", **kwargs)  # type: ignore[arg-type]


# --- addresses


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("localhost:6380", RedisAddress(host="localhost", port=6380)),
        ("redis.internal", RedisAddress(host="redis.internal", port=6379)),
        ("  10.0.0.5:7000 ", RedisAddress(host="10.0.0.5", port=7000)),
        ("[::1]:6390", RedisAddress(host="::1", port=6390)),
        ("redis://cache:6379/2", RedisAddress(host="cache", port=6379, db=2)),
        ("redis://cache", RedisAddress(host="cache", port=6379)),
        ("REDIS://cache:1/", RedisAddress(host="cache", port=1)),
        ("rediss://cache:6380/0", RedisAddress(host="cache", port=6380, ssl=True)),
        ("redis://[::1]:6390/1", RedisAddress(host="::1", port=6390, db=1)),
        (
            "redis://user:p%40ss@cache:6379/0",
            RedisAddress(host="cache", port=6379, username="user", password="p@ss"),
        ),
        ("redis://:only-pass@cache", RedisAddress(host="cache", port=6379, password="only-pass")),
        ("/run/redis/redis.sock", RedisAddress(unix_socket="/run/redis/redis.sock")),
        ("unix:///run/redis/redis.sock", RedisAddress(unix_socket="/run/redis/redis.sock")),
        ("unix:///run/redis.sock?db=4", RedisAddress(unix_socket="/run/redis.sock", db=4)),
    ],
)
def test_parse_address(address: str, parsed: RedisAddress) -> None:
    assert parse_address(address) == parsed


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("redis://", "no host"),
        ("redis:///0", "no host"),
        ("redis://:pw@", "no host"),
        ("localhost:0", "from 1 to 65535"),
        ("localhost:65536", "from 1 to 65535"),
        ("localhost:http", "from 1 to 65535"),
        ("localhost:", "from 1 to 65535"),
        ("redis://cache:99999", "from 1 to 65535"),
        (":6379", "no valid host"),
        ("::1:6379", "brackets"),
        ("[::1:6379", "unclosed"),
        ("redis://cache/db1", "database 'db1'"),
        ("redis://cache:6379/0?ssl_cert_reqs=none", "query parameters"),
        ("http://cache:6379", "unknown scheme 'http'"),
        ("tcp://cache:6379", "unknown scheme"),
        ("unix://", "no socket path"),
        ("unix://relative/path.sock", "no host"),
        ("unix:///run/redis.sock?timeout=1", r"only \?db=N"),
        ("unix:///run/redis.sock?db=x", "database 'x'"),
    ],
)
def test_parse_address_rejects(address: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_address(address)


def test_address_text_hides_the_password() -> None:
    address = parse_address("redis://user:hunter2@cache:6379/1")
    assert str(address) == "redis://cache:6379/1"
    assert "hunter2" not in repr(address)
