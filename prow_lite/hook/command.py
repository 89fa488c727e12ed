"""`prow-lite hook`: Prow's hook flags validated into `HookSettings`, then serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from ghproxy import goflags, logs
from prow_lite.config import parse_duration
from prow_lite.hook.server import Hook, HookError, HookSettings, serve

GHPROXY_DEFAULT = "http://127.0.0.1:8888"  # ghproxy's default port on this machine
ENDPOINT_ENV = "GITHUB_API_URL"


def default_data_dir() -> str:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "prow-lite")


def _port(value: str) -> int:
    number = goflags.port(value)
    if number == 0:
        raise argparse.ArgumentTypeError("a port is 1..65535, got 0")
    return number


def _duration(value: str) -> float:
    """Go durations (`180s`, `1h`) or plain seconds."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return seconds


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _level(value: str) -> str:
    level = goflags.log_level(value)
    if level is None:
        raise argparse.ArgumentTypeError(f"one of debug, info, warning, error (or Go's names), not {value!r}")
    return level


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = HookSettings(config_path="", github_endpoint="")
    p.add_argument("--port", type=_port, default=d.port, help="port to listen on (default %(default)s)")
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--webhook-path", default=d.webhook_path, help="path of webhook events (default %(default)s)")
    p.add_argument("--hmac-secret-file", default=d.hmac_secret_file, help="the webhook secret: a token or Prow's YAML")
    p.add_argument("--config-path", required=True, help="Prow's config.yaml")
    p.add_argument("--job-config-path", default=None, help="job config file or directory (recursive)")
    p.add_argument("--plugin-config", default=None, help="plugins.yaml (none: no plugin is enabled)")
    p.add_argument(
        "--github-endpoint",
        action="append",
        default=[],
        help=f"ghproxy's URL (repeatable as in Prow; the first is used; default ${ENDPOINT_ENV}, else {GHPROXY_DEFAULT})",
    )
    p.add_argument("--github-token-path", default=None, help="file holding the bot's GitHub token")
    p.add_argument("--github-app-id", default=None, help="GitHub App id (instead of a token)")
    p.add_argument("--github-app-private-key-path", default=None, help="the GitHub App's private key (PEM)")
    p.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="where the event queue and the job store live (default %(default)s)",
    )
    p.add_argument(
        "--dry-run",
        type=goflags.boolean,
        nargs="?",
        const=True,
        default=d.dry_run,
        help="read GitHub but log writes instead of sending them (default %(default)s)",
    )
    p.add_argument(
        "--grace-period",
        type=_duration,
        default=d.grace_period_s,
        help="on SIGTERM, how long running events may take to finish (default 180s)",
    )
    p.add_argument(
        "--event-concurrency",
        type=_positive_int,
        default=d.event_concurrency,
        help="events handled at once (one at a time per PR; default %(default)s)",
    )
    p.add_argument(
        "--event-attempts",
        type=_positive_int,
        default=d.event_attempts,
        help="tries before an event is marked failed (default %(default)s)",
    )
    p.add_argument(
        "--event-retry-backoff",
        type=_duration,
        default=d.event_retry_backoff_s,
        help="wait before the first retry, doubled each time (default 2s)",
    )
    p.add_argument(
        "--event-retention",
        type=_duration,
        default=d.event_retention_s,
        help="how long handled events are kept (duplicate delivery ids are recognised for this long; default 168h)",
    )
    p.add_argument("--log-level", type=_level, default=d.log_level, help="debug, info, warning or error")


def settings_from(args: argparse.Namespace) -> HookSettings:
    endpoint = args.github_endpoint[0] if args.github_endpoint else os.environ.get(ENDPOINT_ENV) or GHPROXY_DEFAULT
    return HookSettings(
        config_path=args.config_path,
        github_endpoint=endpoint,
        hmac_secret_file=args.hmac_secret_file,
        job_config_path=args.job_config_path,
        plugin_config=args.plugin_config,
        github_token_path=args.github_token_path,
        github_app_id=args.github_app_id,
        github_app_private_key_path=args.github_app_private_key_path,
        data_dir=str(Path(args.data_dir).expanduser().absolute()),
        host=args.host,
        port=args.port,
        webhook_path=args.webhook_path if args.webhook_path.startswith("/") else "/" + args.webhook_path,
        dry_run=args.dry_run,
        grace_period_s=args.grace_period,
        event_concurrency=args.event_concurrency,
        event_attempts=args.event_attempts,
        event_retry_backoff_s=args.event_retry_backoff,
        event_retention_s=args.event_retention,
        log_level=args.log_level,
    )


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    logs.setup(settings.log_level)
    try:
        hook = Hook.open(settings)
    except HookError as exc:
        print(f"prow-lite hook: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(hook))
    except HookError as exc:
        print(f"prow-lite hook: {exc}", file=sys.stderr)
        return 2
    return 0
