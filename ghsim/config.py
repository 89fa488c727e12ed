"""The simulator's settings: dataset size, latency and GitHub's limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that shapes one simulated GitHub; every field has a default."""

    seed: int = 1
    orgs: int = 1
    repos: int = 3  # per org
    prs_per_repo: int = 8
    issues_per_repo: int = 8
    files_per_repo: int = 12
    # Base URL put in `url` fields and `Link` headers; None derives it from each request's scheme and Host.
    api_url: str | None = None
    # Where webhooks are POSTed (none when unset) and the secret they are signed with; POST /_sim/webhooks changes them.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    latency_ms: float = 0
    jitter_ms: float = 0
    core_limit: int = 5000
    search_limit: int = 30
    graphql_limit: int = 5000
    secondary_limits: bool = True
    max_concurrent: int = 100
    points_per_minute: int = 900
    graphql_points_per_minute: int = 2000
    min_mutation_interval_s: float = 1.0
    secondary_retry_after_s: int = 60
    accept_any_token: bool = True
    installation_token_ttl_s: float = 3600  # lifetime of a GitHub App installation token (GitHub: one hour)
