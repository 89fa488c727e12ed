"""Who is asking: tokens to viewers.

Each seeded user has the token `sim_<login>`. With `accept_any_token`, any other token is a distinct bot user
`bot-<8 hex of sha256(token)>` that may write to every public repository; the token itself is never echoed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ghsim.config import SimConfig
from ghsim.models import User
from ghsim.store import Dataset

TOKEN_PREFIX = "sim_"


class BadCredentials(Exception):
    """The Authorization header names no user we know (401 Bad credentials)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    token: str  # exactly as sent; "" when anonymous
    user: User | None
    seeded: bool

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @property
    def login(self) -> str | None:
        return self.user.login if self.user else None


ANONYMOUS = Viewer("", None, seeded=False)


def parse_authorization(header: str | None) -> str | None:
    """The token from `token X` or `Bearer X`; None without the header."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token.strip():
        raise BadCredentials(header)
    return token.strip()


def bot_user(token: str) -> User:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return User(f"bot-{digest[:8]}", 50_000_000 + int(digest[:6], 16), type="User", name=None)


def identify(token: str | None, data: Dataset, config: SimConfig) -> Viewer:
    if token is None:
        return ANONYMOUS
    if token.startswith(TOKEN_PREFIX) and token[len(TOKEN_PREFIX) :] in data.users:
        return Viewer(token, data.users[token[len(TOKEN_PREFIX) :]], seeded=True)
    if config.accept_any_token:
        return Viewer(token, bot_user(token), seeded=False)
    raise BadCredentials(token)
