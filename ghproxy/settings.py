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

    @property
    def max_entry_bytes(self) -> int:
        return int(self.max_entry_mb * 1024 * 1024)

    @property
    def memory_cache_bytes(self) -> int:
        return int(self.memory_cache_mb * 1024 * 1024)
