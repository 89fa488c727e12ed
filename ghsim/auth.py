"""Who is asking: tokens to viewers.

Each seeded user has the token `sim_<login>`. A GitHub App authenticates with a JWT (three dot-separated parts)
and acts as its installations with `ghs_` tokens (ghsim/apps.py); neither ever falls through to the next rule. With
`accept_any_token`, any other token is a distinct bot user `bot-<8 hex of sha256(token)>` that may write to every
public repository; the token itself is never echoed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from ghsim import apps
from ghsim.apps import App, AppRegistry, Grant
from ghsim.config import SimConfig
from ghsim.models import User
from ghsim.store import Dataset

TOKEN_PREFIX = "sim_"


class BadCredentials(Exception):
    """The Authorization header names no user we know: 401 Bad credentials, or GitHub's answer to a bad JWT."""

    def __init__(self, message: str = "Bad credentials", status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Viewer:
    token: str  # exactly as sent; "" when anonymous; "app:<id>" for an app's JWTs
    user: User | None
    seeded: bool
    app: App | None = None  # authenticated with this app's JWT
    installation: Grant | None = None  # authenticated with an installation token

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


def identify(
    token: str | None, data: Dataset, config: SimConfig, registry: AppRegistry | None = None, now: float | None = None
) -> Viewer:
    """The viewer a token stands for; `registry` knows the apps (without it JWTs and `ghs_` tokens are refused)."""
    if token is None:
        return ANONYMOUS
    user = data.users.get(token[len(TOKEN_PREFIX) :]) if token.startswith(TOKEN_PREFIX) else None
    if user is not None and user.type == "User":
        return Viewer(token, user, seeded=True)
    now = time.time() if now is None else now
    if apps.looks_like_jwt(token):
        if registry is None:
            raise BadCredentials(apps.NOT_DECODED)
        try:
            app = registry.authenticate(token, now)
        except apps.JwtError as exc:
            raise BadCredentials(exc.message, exc.status) from exc
        return Viewer(f"app:{app.id}", app.bot, seeded=False, app=app)
    if token.startswith(apps.TOKEN_PREFIX):
        grant = registry.grant(token, now) if registry is not None else None
        if grant is None:
            raise BadCredentials()
        return Viewer(token, grant.bot, seeded=False, installation=grant)
    if config.accept_any_token:
        return Viewer(token, bot_user(token), seeded=False)
    raise BadCredentials()
