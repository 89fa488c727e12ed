"""GitHub Apps: the seeded app and its installations, app JWTs, installation tokens and what they may reach.

Sources: https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
(the JWT) and https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app (the token).

The app's RSA key is made on first use, so a simulator that never sees an app pays nothing for it.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghsim.models import Permission, RepoInfo, User
from ghsim.store import Dataset

APP_ID = 1001
APP_SLUG = "sim-app"
FIRST_INSTALLATION_ID = 2001
BOT_ID_OFFSET = 41_000_000
TOKEN_PREFIX = "ghs_"
TOKEN_ALPHABET = string.ascii_letters + string.digits
JWT_MAX_LIFETIME_S = 600
JWT_CLOCK_DRIFT_S = 60
# What every installation was granted; a token may ask for less.
PERMISSIONS: Mapping[str, str] = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "members": "read",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
EVENTS = ("issue_comment", "issues", "pull_request", "pull_request_review", "push", "status")
LEVELS = ("read", "write")

NOT_DECODED = "A JSON web token could not be decoded"
BAD_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
BAD_EXP = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion "
    "expires"
)
EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"


class JwtError(Exception):
    """A JWT GitHub would refuse; `status` and `message` are GitHub's answer."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MintError(Exception):
    """A token request the installation cannot grant (422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class App:
    id: int
    slug: str
    name: str
    client_id: str
    owner: str  # org login
    bot: User  # `<slug>[bot]`, whom installation tokens act as
    created_at: int


@dataclass(frozen=True, slots=True)
class Installation:
    id: int
    app_id: int
    account: str  # org login
    created_at: int


@dataclass(frozen=True, slots=True)
class Scope:
    """What a mint asked for: repositories (lower-cased full names; None: all of the account) and permissions."""

    repos: frozenset[str] | None
    permissions: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Grant:
    """One installation token: whose, until when, and which repositories and permissions it carries."""

    installation: Installation
    bot: User
    expires_at: float
    permissions: Mapping[str, str]
    repos: frozenset[str] | None = None  # lower-cased full names; None: every repository of the account

    @property
    def selection(self) -> str:
        return "all" if self.repos is None else "selected"

    def covers(self, info: RepoInfo) -> bool:
        """The repository belongs to the installation's account and the token was not narrowed away from it."""
        return info.owner.lower() == self.installation.account.lower() and (
            self.repos is None or info.full_name.lower() in self.repos
        )

    def role(self, info: RepoInfo) -> Permission:
        """Write on the repositories it covers (read if the token has no write permission), read on other public
        repositories, nothing on other private ones."""
        if self.covers(info):
            return Permission.WRITE if "write" in self.permissions.values() else Permission.READ
        return Permission.NONE if info.private else Permission.READ


def looks_like_jwt(token: str) -> bool:
    """GitHub's own tokens never hold a dot; a JWT is three dot-separated parts."""
    return token.count(".") == 2


def check_claims(claims: Mapping[str, Any], now: float) -> str | None:
    """GitHub's message for claims it refuses, else None.

    `iat` may be up to 60 s ahead of our clock (drift); `exp` must be in the future and at most 10 minutes after
    the later of `iat` and now (so both `iat = now - 60, exp = iat + 600` and GitHub's own example
    `iat = now - 60, exp = now + 600` pass).
    """
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or isinstance(iat, bool) or iat > now + JWT_CLOCK_DRIFT_S:
        return BAD_IAT
    if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp) or exp <= now:
        return BAD_EXP
    if exp - max(iat, now) > JWT_MAX_LIFETIME_S:
        return EXP_TOO_FAR
    return None


def narrow(installation: Installation, body: Mapping[str, Any], data: Dataset) -> Scope:
    """The scope a mint's body asks for.

    `repositories` are names within the installation's account, `repository_ids` ids; both must exist there.
    `permissions` may only ask for what the installation was granted.
    """
    owned = data.org_repos(installation.account)
    names, ids = body.get("repositories"), body.get("repository_ids")
    repos: frozenset[str] | None = None
    if names is not None or ids is not None:
        if not isinstance(names or [], list) or not isinstance(ids or [], list):
            raise MintError("Invalid request.\n\nFor 'properties/repositories', it is not an array.")
        by_name = {r.info.name.lower(): r.info.full_name.lower() for r in owned}
        by_id = {r.info.id: r.info.full_name.lower() for r in owned}
        wanted = [by_name.get(str(n).lower()) for n in names or []]
        wanted += [by_id.get(i) if isinstance(i, int) else None for i in ids or []]
        if None in wanted or not wanted:
            raise MintError(
                "There is at least one repository that does not exist or is not accessible to the parent installation."
            )
        repos = frozenset(w for w in wanted if w is not None)
    asked = body.get("permissions")
    if not asked:  # absent, null or {} (PyGithub sends {}): everything the installation has
        return Scope(repos, dict(PERMISSIONS))
    if not isinstance(asked, dict):
        raise MintError("Invalid request.\n\nFor 'properties/permissions', it is not an object.")
    for name, level in asked.items():
        granted = PERMISSIONS.get(name)
        if granted is None or level not in LEVELS or LEVELS.index(level) > LEVELS.index(granted):
            raise MintError("The permissions requested are not granted to this installation.")
    return Scope(repos, {str(k): str(v) for k, v in asked.items()})


def new_token() -> str:
    """`ghs_` and 36 random letters and digits, as GitHub's installation tokens look."""
    return TOKEN_PREFIX + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(36))


def iso_z(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@dataclass(slots=True)
class AppRegistry:
    """The apps, their installations, their private keys and the installation tokens minted so far."""

    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    keys: dict[int, rsa.RSAPrivateKey] = field(default_factory=dict)

    def private_key(self, app_id: int) -> rsa.RSAPrivateKey:
        if app_id not in self.keys:
            self.keys[app_id] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[app_id]

    def private_key_pem(self, app_id: int) -> str:
        return (
            self.private_key(app_id)
            .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            .decode()
        )

    def find_app(self, issuer: object) -> App | None:
        """The app a JWT's `iss` names: its id (int or digits) or its client id."""
        for app in self.apps.values():
            if issuer in (app.id, str(app.id), app.client_id) and not isinstance(issuer, bool):
                return app
        return None

    def authenticate(self, token: str, now: float) -> App:
        """The app whose key signed this JWT, if GitHub would take it; else JwtError with GitHub's answer."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise JwtError(NOT_DECODED) from exc
        if header.get("alg") != "RS256" or "iss" not in unverified:
            raise JwtError(NOT_DECODED)
        app = self.find_app(unverified["iss"])
        if app is None:
            raise JwtError("Integration not found", status=404)
        try:
            claims = jwt.decode(
                token,
                self.private_key(app.id).public_key(),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise JwtError(NOT_DECODED) from exc
        problem = check_claims(claims, now)
        if problem is not None:
            raise JwtError(problem)
        return app

    def installation_of(self, app: App, account: str) -> Installation | None:
        for inst in self.installations.values():
            if inst.app_id == app.id and inst.account.lower() == account.lower():
                return inst
        return None

    def mint(self, installation: Installation, scope: Scope, expires_at: float) -> tuple[str, Grant]:
        """A new installation token and its grant."""
        bot = self.apps[installation.app_id].bot
        made = Grant(installation, bot, expires_at, scope.permissions, scope.repos)
        token = new_token()
        self.tokens[token] = made
        return token, made

    def grant(self, token: str, now: float) -> Grant | None:
        """The live grant of an installation token; an expired one is forgotten."""
        found = self.tokens.get(token)
        if found is not None and now >= found.expires_at:
            del self.tokens[token]
            return None
        return found

    def as_json(self) -> dict[str, Any]:
        """What `GET /_sim/apps` shows: each app with its private key and installations."""
        return {
            "apps": [
                {
                    "id": app.id,
                    "slug": app.slug,
                    "name": app.name,
                    "client_id": app.client_id,
                    "private_key_pem": self.private_key_pem(app.id),
                    "installations": [
                        {"id": i.id, "account": i.account} for i in self.installations.values() if i.app_id == app.id
                    ],
                }
                for app in self.apps.values()
            ]
        }


def seed(data: Dataset) -> AppRegistry:
    """The app `sim-app` (owned by the first org) installed on every org, one installation each.

    Its bot user joins `data.users` so that what it writes renders with its author.
    """
    orgs = sorted(data.orgs.values(), key=lambda o: o.id)
    created = min((o.created_at for o in orgs), default=0)
    bot = User(f"{APP_SLUG}[bot]", BOT_ID_OFFSET + APP_ID, type="Bot", name=None, created_at=created)
    client_id = "Iv1." + hashlib.sha256(APP_SLUG.encode()).hexdigest()[:16]
    app = App(APP_ID, APP_SLUG, "Sim App", client_id, orgs[0].login if orgs else "", bot, created)
    registry = AppRegistry(apps={app.id: app})
    for k, org in enumerate(orgs):
        inst = Installation(FIRST_INSTALLATION_ID + k, app.id, org.login, created)
        registry.installations[inst.id] = inst
    data.users[bot.login] = bot
    return registry
