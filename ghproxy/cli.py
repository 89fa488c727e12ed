"""`ghproxy` command line: Go ghproxy's flag names, validated into Settings."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ghproxy import goflags, logs
from ghproxy.errors import ConfigError
from ghproxy.server import serve
from ghproxy.settings import Settings
from ghproxy.upstream import parse_upstream


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return number


def parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="ghproxy",
        description="A caching, revalidating reverse proxy for the GitHub API (a drop-in for Prow's ghproxy).",
    )
    p.add_argument("--port", type=goflags.port, default=d.port, help="port to serve the proxy on (default %(default)s)")
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--upstream", default=d.upstream, help="scheme, host and base path of the GitHub API")
    p.add_argument(
        "--public-url",
        default=None,
        help="URL clients use to reach this proxy; upstream URLs in bodies and Link/Location headers are rewritten "
        "to it (default: derived from each request's Host)",
    )
    p.add_argument("--memory-cache-mb", type=_positive, default=d.memory_cache_mb, help="memory tier size")
    p.add_argument(
        "--max-entry-mb", type=_positive, default=d.max_entry_mb, help="larger bodies stream through uncached"
    )
    p.add_argument(
        "--request-timeout",
        type=_positive,
        default=d.request_timeout,
        help="seconds an upstream request may take; also the graceful-shutdown period",
    )
    p.add_argument(
        "--upstream-connections",
        type=int,
        default=d.upstream_connections,
        help="pooled connections to upstream",
    )
    p.add_argument(
        "--cache-dir",
        default=default_cache_dir(),
        help="disk tier directory, shared safely by processes on one machine; '' keeps the cache in memory only "
        "(default %(default)s)",
    )
    p.add_argument(
        "--cache-sizeGB",
        dest="cache_size_gb",
        type=_positive,
        default=d.cache_size_gb,
        help="cap on the disk tier's real disk use, in GB (default %(default)s)",
    )
    p.add_argument(
        "--cache-ttl", type=_positive, default=d.cache_ttl, help="seconds an unused disk entry is kept (default 1 day)"
    )
    p.add_argument("--redis-address", default="", help="host:port, redis:// or rediss:// URL, or a unix socket path")
    p.add_argument("--redis-username", default="", help="Redis ACL user")
    p.add_argument(
        "--redis-password-file",
        "--redis-secret-file",
        dest="redis_password_file",
        default="",
        help="file holding the Redis password (Go ghproxy's --redis-secret-file is accepted too)",
    )
    p.add_argument(
        "--redis-ttl", type=_positive, default=d.redis_ttl, help="seconds an unused Redis entry is kept (default 1 day)"
    )
    p.add_argument(
        "--redis-max-entry-mb", type=_positive, default=d.redis_max_entry_mb, help="larger entries skip Redis"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        help="processes serving the same port (SO_REUSEPORT); each has its own memory tier and shares disk and Redis",
    )
    p.add_argument(
        "--coalesce-window-ms",
        type=float,
        default=d.coalesce_window_ms,
        help="identical GETs arriving this long after a shared answer landed still share it (0: in flight only)",
    )
    p.add_argument(
        "--immutable",
        type=goflags.boolean,
        nargs="?",
        const=True,
        default=d.immutable,
        help="serve content addressed by a full SHA (git objects, contents at a commit) without revalidating "
        "(default true)",
    )
    p.add_argument(
        "--cross-token",
        type=goflags.boolean,
        nargs="?",
        const=True,
        default=d.cross_token,
        help="reuse another token's stored body when GitHub confirms (free 304) it is this token's too (default true)",
    )
    p.add_argument(
        "--app-token-reuse",
        choices=("mint-once", "go", "off"),
        default=d.app_token_reuse,
        help="POST /app/installations/{id}/access_tokens: mint-once hands every caller the token already minted "
        "(after GitHub confirms the caller's JWT); go forwards every mint and answers with the token handed out "
        "first (Go ghproxy); off forwards untouched (default %(default)s)",
    )
    p.add_argument(
        "--app-token-min-remaining-seconds",
        type=_positive,
        default=d.app_token_min_remaining_s,
        help="hand out an installation token only while it has more than this left (default %(default)s)",
    )
    p.add_argument(
        "--app-token-key-file",
        default="",
        help="a secret shared by the replicas: installation tokens shared through Redis are sealed with it",
    )
    g = p.add_argument_group("throttling (per token; Go ghproxy's flags keep their meaning)")
    g.add_argument("--concurrency", type=int, default=d.concurrency, help="requests in flight per token (default 25)")
    g.add_argument("--throttling-time-ms", type=float, default=0.0, help="spacing between non-GET requests")
    g.add_argument("--get-throttling-time-ms", type=float, default=0.0, help="spacing between GET requests")
    g.add_argument("--throttling-time-v4-ms", type=float, default=0.0, help="spacing between GraphQL requests")
    g.add_argument("--throttling-max-delay-duration-seconds", type=float, default=d.throttling_max_delay_s,
                   help="a request that would wait longer gets 429 at once")  # fmt: skip
    g.add_argument("--throttling-max-delay-duration-v4-seconds", type=float, default=d.throttling_max_delay_v4_s)
    g.add_argument("--secondary-limits", type=goflags.boolean, nargs="?", const=True, default=True,
                   help="model GitHub's secondary limits (default true)")  # fmt: skip
    g.add_argument("--points-per-minute", type=int, default=d.points_per_minute, help="REST points a minute (900)")
    g.add_argument("--points-per-minute-v4", type=int, default=d.points_per_minute_v4, help="GraphQL points (2000)")
    g.add_argument("--mutation-interval-seconds", type=float, default=d.mutation_interval_s,
                   help="least time between mutative requests of a token (1)")  # fmt: skip
    p.add_argument("--metrics-port", type=goflags.port, default=d.metrics_port, help="port for /metrics; 0 disables it")
    p.add_argument("--health-port", type=goflags.port, default=d.health_port, help="port for /healthz; 0 disables it")
    p.add_argument(
        "--serve-metrics",
        type=goflags.boolean,
        nargs="?",
        const=True,
        default=d.metrics_on_main_port,
        help="also serve /metrics on the proxy port (default true)",
    )
    p.add_argument("--log-level", default=d.log_level, help="debug, info, warning or error (Go names accepted)")
    return p


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/ghproxy, else ~/.cache/ghproxy."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ghproxy")


def settings_from_args(argv: Sequence[str]) -> Settings:
    args = parser().parse_args(goflags.go_style(argv))
    level = goflags.log_level(args.log_level)
    if level is None:
        raise ConfigError(f"--log-level must be one of {', '.join(goflags.LEVELS)}, got {args.log_level!r}")
    parse_upstream(args.upstream)
    if args.public_url is not None:
        parse_upstream(args.public_url)
    ports = [p for p in (args.port, args.metrics_port, args.health_port) if p]
    if len(ports) != len(set(ports)):
        raise ConfigError("--port, --metrics-port and --health-port must differ (0 disables metrics or health)")
    if args.cache_dir and args.cache_size_gb * 1024**3 < 4 * 1024**2:
        raise ConfigError(f"--cache-sizeGB must be at least 0.004 (4 MiB) for the disk tier, got {args.cache_size_gb}")
    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {args.concurrency}")
    if min(args.points_per_minute, args.points_per_minute_v4) < 20:
        raise ConfigError("--points-per-minute and --points-per-minute-v4 must be at least 20")
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    password = ""
    if args.redis_password_file:
        try:
            password = Path(args.redis_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"--redis-password-file {args.redis_password_file!r} cannot be read: {exc.strerror}"
            ) from exc
    app_token_key = None
    if args.app_token_key_file:
        from ghproxy.apptokens import sealing_key

        try:
            secret = Path(args.app_token_key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"--app-token-key-file {args.app_token_key_file!r} cannot be read: {exc.strerror}"
            ) from exc
        if not secret.strip():
            raise ConfigError(f"--app-token-key-file {args.app_token_key_file!r} is empty")
        app_token_key = sealing_key(secret)
    if args.redis_address:
        from ghproxy.cache.redis import parse_address

        parse_address(args.redis_address)
    return Settings(
        cache_dir=args.cache_dir,
        cache_size_gb=args.cache_size_gb,
        cache_ttl=args.cache_ttl,
        redis_address=args.redis_address,
        redis_username=args.redis_username,
        redis_password=password,
        redis_ttl=args.redis_ttl,
        redis_max_entry_mb=args.redis_max_entry_mb,
        workers=args.workers,
        concurrency=args.concurrency,
        coalesce_window_ms=args.coalesce_window_ms,
        immutable=args.immutable,
        cross_token=args.cross_token,
        app_token_reuse=args.app_token_reuse,
        app_token_min_remaining_s=args.app_token_min_remaining_seconds,
        app_token_key=app_token_key,
        throttling_time_ms=args.throttling_time_ms,
        get_throttling_time_ms=args.get_throttling_time_ms,
        throttling_time_v4_ms=args.throttling_time_v4_ms,
        throttling_max_delay_s=args.throttling_max_delay_duration_seconds,
        throttling_max_delay_v4_s=args.throttling_max_delay_duration_v4_seconds,
        secondary_limits=args.secondary_limits,
        points_per_minute=args.points_per_minute,
        points_per_minute_v4=args.points_per_minute_v4,
        mutation_interval_s=args.mutation_interval_seconds,
        upstream=args.upstream.rstrip("/"),
        host=args.host,
        port=args.port,
        public_url=args.public_url.rstrip("/") if args.public_url else None,
        memory_cache_mb=args.memory_cache_mb,
        max_entry_mb=args.max_entry_mb,
        request_timeout=args.request_timeout,
        upstream_connections=args.upstream_connections,
        metrics_port=args.metrics_port,
        metrics_on_main_port=args.serve_metrics,
        health_port=args.health_port,
        log_level=level,
    )


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (Linux, macOS): the proxy's hot path is event-loop bound."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = settings_from_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"ghproxy: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level)
    if settings.workers > 1:
        from ghproxy import workers

        return workers.run(settings)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings))
    except OSError as exc:
        print(f"ghproxy: cannot serve: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
