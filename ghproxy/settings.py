"""ghproxy's settings: one frozen value built from the command line, passed to every part."""

from __future__ import annotations

from dataclasses import dataclass

from ghproxy.throttle.model import Limits


@dataclass(frozen=True, slots=True)
class Settings:
    upstream: str = "https://api.github.com"
    host: str = "0.0.0.0"
    port: int = 8888
    public_url: str | None = None
    memory_cache_mb: float = 256.0
    max_entry_mb: float = 8.0
    request_timeout: float = 30.0
    upstream_connections: int = 100
    metrics_port: int = 9090
    metrics_on_main_port: bool = True
    health_port: int = 8081
    log_level: str = "info"
    # Disk tier: "" keeps the cache in memory only (the CLI defaults to ~/.cache/ghproxy).
    cache_dir: str = ""
    cache_size_gb: float = 1.0
    cache_ttl: float = 86400.0
    # Redis tier, shared by replicas: "" turns it off.
    redis_address: str = ""
    redis_username: str = ""
    redis_password: str = ""
    redis_ttl: float = 86400.0
    redis_max_entry_mb: float = 2.0
    prune_interval: float = 600.0
    workers: int = 1
    # Throttle (Go ghproxy's flags, plus the model of GitHub's secondary limits, on by default).
    concurrency: int = 25
    coalesce_window_ms: float = 0.0
    immutable: bool = True  # serve SHA-addressed content without revalidating
    cross_token: bool = True  # revalidate other tokens' stored bodies with this token's computed ETag
    # App installation tokens: "mint-once" (shared, one mint), "go" (Go ghproxy's equalizer), "off".
    app_token_reuse: str = "mint-once"
    app_token_min_remaining_s: float = 60.0
    app_token_key: bytes | None = None  # from --app-token-key-file: seals tokens shared through Redis
    throttling_time_ms: float = 0.0
    get_throttling_time_ms: float = 0.0
    throttling_time_v4_ms: float = 0.0
    throttling_max_delay_s: float = 30.0
    throttling_max_delay_v4_s: float = 30.0
    secondary_limits: bool = True
    points_per_minute: int = 900
    points_per_minute_v4: int = 2000
    mutation_interval_s: float = 1.0
    reuse_port: bool = False  # set for each of several workers sharing one port

    def limits(self) -> Limits:
        v4 = self.throttling_time_v4_ms or self.throttling_time_ms  # Go: v4 falls back to throttling-time-ms
        return Limits(
            secondary=self.secondary_limits,
            points_per_minute=self.points_per_minute,
            points_per_minute_v4=self.points_per_minute_v4,
            mutation_interval=self.mutation_interval_s,
            get_spacing=self.get_throttling_time_ms / 1000,
            write_spacing=self.throttling_time_ms / 1000,
            v4_spacing=v4 / 1000,
            max_delay=self.throttling_max_delay_s,
            max_delay_v4=self.throttling_max_delay_v4_s,
        )

    @property
    def max_entry_bytes(self) -> int:
        return int(self.max_entry_mb * 1024 * 1024)

    @property
    def memory_cache_bytes(self) -> int:
        return int(self.memory_cache_mb * 1024 * 1024)
