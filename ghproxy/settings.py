"""ghproxy's settings: one frozen value built from the command line, passed to every part."""

from __future__ import annotations

from dataclasses import dataclass


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
    reuse_port: bool = False  # set for each of several workers sharing one port

    @property
    def max_entry_bytes(self) -> int:
        return int(self.max_entry_mb * 1024 * 1024)

    @property
    def memory_cache_bytes(self) -> int:
        return int(self.memory_cache_mb * 1024 * 1024)
