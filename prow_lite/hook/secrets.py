"""Webhook HMAC secrets: Prow's secret file, the level that applies to a repository, and signatures.

The file is either one raw token (whitespace around it ignored) or Prow's YAML, tokens per level:

    org0/repo0: [{value: s3cret, created_at: 2024-01-01T00:00:00Z}]
    org0: [{value: old}, {value: new}]
    "*": [{value: fallback}]

As Prow's github.ValidatePayload: only the most specific level configured for the payload's repository counts
(`org/repo`, else `org`, else `*`), and any token of that level is accepted, so a secret is rotated by adding the new
token, switching GitHub over, then removing the old one. `SecretFile` re-reads the file when it changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("prow_lite.hook.secrets")

PREFIX = "sha256="
WILDCARD = "*"


class SecretError(Exception):
    """The HMAC secret file is missing, empty or malformed."""


@dataclass(frozen=True, slots=True)
class Secrets:
    """Tokens by level (`org/repo`, `org`, `*`); `raw` is the single token of a raw-token file."""

    levels: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    raw: bytes | None = None

    def tokens_for(self, org_repo: str) -> tuple[bytes, ...]:
        """The tokens that may sign a payload of `org_repo` (`org/repo`, or `org` for org-level events)."""
        if self.raw is not None:
            return (self.raw,)
        org = org_repo.split("/", 1)[0]
        for level in (org_repo, org, WILDCARD):
            if level and level in self.levels:
                return self.levels[level]
        return ()


def parse_secrets(data: bytes, source: str = "the HMAC secret file") -> Secrets:
    """A secret file's bytes as `Secrets`; SecretError names `source` when there is no usable token."""
    try:
        doc: Any = yaml.safe_load(data)
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict) and doc and all(isinstance(v, list) for v in doc.values()):
        levels: dict[str, tuple[bytes, ...]] = {}
        for level, entries in doc.items():
            tokens = []
            for entry in entries:
                value = entry.get("value") if isinstance(entry, dict) else None
                if value is None or str(value) == "":
                    raise SecretError(f"{source}: every token of {level!r} needs a non-empty value")
                tokens.append(str(value).encode())
            if not tokens:
                raise SecretError(f"{source}: {level!r} lists no tokens")
            levels[str(level)] = tuple(tokens)
        return Secrets(levels=levels)
    # Prow reads anything that is not the hierarchical YAML as one raw token.
    token = data.strip()
    if not token:
        raise SecretError(f"{source}: empty; write a token or Prow's YAML of tokens per org/repo")
    return Secrets(raw=token)


def sign(body: bytes, key: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body` signed with `key`."""
    return PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def parse_signature(signature: str) -> bytes | None:
    """The digest in a `sha256=<hex>` signature; None when it is not of that form."""
    if not signature.startswith(PREFIX):
        return None
    try:
        return bytes.fromhex(signature[len(PREFIX) :])
    except ValueError:
        return None


def verify(body: bytes, signature: str, tokens: Iterable[bytes]) -> bool:
    """Whether `signature` (`sha256=<hex>`) is `body` signed by any of `tokens`, compared in constant time."""
    given = parse_signature(signature)
    if given is None:
        return False
    found = False
    for token in tokens:
        # every token is compared, so the time taken does not tell which one (or whether any) matched
        found |= hmac.compare_digest(given, hmac.new(token, body, hashlib.sha256).digest())
    return found


def org_repo_of(payload: Mapping[str, Any]) -> str:
    """Whose secret signs a payload: `repository.full_name`, else `organization.login` (org-level events)."""
    repository = payload.get("repository")
    if isinstance(repository, dict) and repository.get("full_name"):
        return str(repository["full_name"])
    organization = payload.get("organization")
    if isinstance(organization, dict) and organization.get("login"):
        return str(organization["login"])
    return ""


class SecretFile:
    """The secret file, parsed once and again whenever it changes on disk (rotation without a restart).

    A change that does not parse is logged and the last good secrets stay in force.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._secrets = self._load()

    def _stat(self) -> tuple[int, int, int]:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> Secrets:
        try:
            stamp = self._stat()
            data = self.path.read_bytes()
        except OSError as exc:
            raise SecretError(f"{self.path}: cannot read the HMAC secret file ({exc.strerror})") from exc
        secrets = parse_secrets(data, str(self.path))
        self._stamp = stamp
        return secrets

    @property
    def current(self) -> Secrets:
        try:
            changed = self._stat() != self._stamp
        except OSError:
            changed = False  # mid-replace (or removed): keep what we have
        if changed:
            try:
                self._secrets = self._load()
                log.info("reloaded the HMAC secret file %s", self.path)
            except SecretError as exc:
                log.error("keeping the previous HMAC secrets: %s", exc)
                with contextlib.suppress(OSError):
                    self._stamp = self._stat()
        return self._secrets
