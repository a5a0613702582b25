"""Staff accounts, API tokens and login sessions: one identity store in Redis for all three services.

Why Redis (see the README's "Security" section): every service already
trusts and reaches the same Redis (run with AOF), so a user disabled, a token
revoked or a session ended there stops working in every service at the very
next request, without an event to replicate and no read model to lag behind.
Services still never read each other's tables.

Keys (prefix ``reglab:auth:``):

- ``user:<name>`` hash: role, Argon2 hash, disabled, created_at; ``users`` set of names.
- ``token:<sha256>`` hash: user, label, created_at, last_used_at; ``user-tokens:<name>`` set.
  The token itself (32 random bytes) is shown once and never stored.
- ``session:<sha256>`` hash: user, created_at, with a TTL; ``user-sessions:<name>`` set.
  Logout deletes the session; disabling a user deletes all of theirs.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's
low-memory profile). The bootstrap admin (``REGLAB_ADMIN_USER`` /
``REGLAB_ADMIN_PASSWORD``) and token (``REGLAB_API_TOKEN``) come from the
environment and are checked by :mod:`shared.web`, not stored here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from redis.asyncio import Redis

Role = Literal["staff", "finance", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
ROLE_LABELS: dict[str, str] = {"staff": "Kansliet", "finance": "Ekonomi", "admin": "Administratör"}

PREFIX = "reglab:auth:"
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOKEN_BYTES = 32

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown user like that of a known one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """Bad input for an account operation; the message is Swedish, for the page and the command."""


def allowed(role: str, roles: tuple[str, ...]) -> bool:
    """Admin may do everything; otherwise the role must be one the route names."""
    return role == "admin" or role in roles


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_username(name: str) -> str:
    name = name.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountError("Användarnamnet ska vara 2–40 tecken: a–z, 0–9, punkt, bindestreck eller "
                           "understreck, och börja med en bokstav eller siffra.")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"Okänd roll {role!r}: välj staff, finance eller admin.")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Lösenordet ska vara minst {MIN_PASSWORD_LENGTH} tecken.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Lösenordet får vara högst {MAX_PASSWORD_LENGTH} tecken.")
    return password


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    disabled: bool
    created_at: str
    password_hash: str = ""


@dataclass(frozen=True)
class TokenInfo:
    id: str  # the first 12 hex digits of the hash: enough to name it on a page, useless to use it
    user: str
    label: str
    created_at: str
    last_used_at: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by session or token) or the bootstrap token."""

    name: str
    role: Role
    via: Literal["session", "token", "bootstrap-token"]


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds")


class AccountStore:
    """Users, tokens and sessions in Redis. ``reserved`` names the bootstrap admin, who cannot be created."""

    def __init__(self, redis: Redis, *, reserved: str = "") -> None:
        self.redis = redis
        self.reserved = reserved.strip().lower()

    # --- users ---

    async def create_user(self, name: str, role: str, password: str, now: datetime) -> User:
        name, checked_role, password = check_username(name), check_role(role), check_password(password)
        if name == self.reserved:
            raise AccountError(f"{name} är administratören från miljön (REGLAB_ADMIN_USER).")
        user = User(name=name, role=checked_role, disabled=False, created_at=_iso(now),
                    password_hash=hash_password(password))
        # HSETNX on a marker field first, so two admins creating the same name cannot both succeed.
        if not await self.redis.hsetnx(f"{PREFIX}user:{name}", "name", name):
            raise AccountError(f"Användaren {name} finns redan.")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{PREFIX}user:{name}", mapping={
                "role": user.role, "password_hash": user.password_hash, "disabled": "0",
                "created_at": user.created_at})
            pipe.sadd(f"{PREFIX}users", name)
            await pipe.execute()
        return user

    async def get_user(self, name: str) -> User | None:
        data = {_text(k): _text(v) for k, v in (await self.redis.hgetall(f"{PREFIX}user:{name}")).items()}
        if not data.get("role") or data["role"] not in ROLES:
            return None
        return User(name=name, role=data["role"], disabled=data.get("disabled") == "1",
                    created_at=data.get("created_at", ""), password_hash=data.get("password_hash", ""))

    async def list_users(self) -> list[User]:
        names = sorted(_text(n) for n in await self.redis.smembers(f"{PREFIX}users"))
        users = [await self.get_user(name) for name in names]
        return [user for user in users if user is not None]

    async def disable_user(self, name: str) -> User:
        """Disable and end every session and token of the user at once (in every service)."""
        user = await self._existing(name)
        sessions = await self.redis.smembers(f"{PREFIX}user-sessions:{user.name}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{PREFIX}user:{user.name}", "disabled", "1")
            for key in sessions:
                pipe.delete(f"{PREFIX}session:{_text(key)}")
            pipe.delete(f"{PREFIX}user-sessions:{user.name}")
            await pipe.execute()
        return await self._existing(name)

    async def enable_user(self, name: str) -> User:
        user = await self._existing(name)
        await self.redis.hset(f"{PREFIX}user:{user.name}", "disabled", "0")
        return await self._existing(name)

    async def set_password(self, name: str, password: str) -> None:
        user = await self._existing(name)
        await self.redis.hset(f"{PREFIX}user:{user.name}", "password_hash",
                              hash_password(check_password(password)))

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches and the account is enabled; same work either way."""
        user = await self.get_user(name.strip().lower())
        matches = verify_password(user.password_hash if user else None, password)
        return user if user is not None and matches and not user.disabled else None

    async def _existing(self, name: str) -> User:
        user = await self.get_user(name.strip().lower())
        if user is None:
            raise AccountError(f"Användaren {name} finns inte.")
        return user

    # --- API tokens ---

    async def create_token(self, name: str, label: str, now: datetime) -> tuple[str, TokenInfo]:
        """A new token for the user: (the token, shown once; its stored description)."""
        user = await self._existing(name)
        if user.disabled:
            raise AccountError(f"Användaren {user.name} är avstängd.")
        label = label.strip()[:100]
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = sha256(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{PREFIX}token:{digest}", mapping={
                "user": user.name, "label": label, "created_at": _iso(now), "last_used_at": ""})
            pipe.sadd(f"{PREFIX}user-tokens:{user.name}", digest)
            await pipe.execute()
        return token, TokenInfo(id=digest[:12], user=user.name, label=label, created_at=_iso(now),
                                last_used_at="")

    async def tokens(self, name: str | None = None) -> list[TokenInfo]:
        names = [name] if name else [user.name for user in await self.list_users()]
        found: list[TokenInfo] = []
        for owner in names:
            for digest in sorted(_text(d) for d in await self.redis.smembers(f"{PREFIX}user-tokens:{owner}")):
                data = {_text(k): _text(v) for k, v in
                        (await self.redis.hgetall(f"{PREFIX}token:{digest}")).items()}
                if data:
                    found.append(TokenInfo(id=digest[:12], user=owner, label=data.get("label", ""),
                                           created_at=data.get("created_at", ""),
                                           last_used_at=data.get("last_used_at", "")))
        return found

    async def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke by the id shown on the page (the hash's first 12 hex digits)."""
        token_id = token_id.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{12}", token_id):
            raise AccountError("Ogiltigt token-id.")
        for info in await self.tokens():
            if info.id == token_id:
                for digest in await self.redis.smembers(f"{PREFIX}user-tokens:{info.user}"):
                    if _text(digest).startswith(token_id):
                        async with self.redis.pipeline(transaction=True) as pipe:
                            pipe.delete(f"{PREFIX}token:{_text(digest)}")
                            pipe.srem(f"{PREFIX}user-tokens:{info.user}", digest)
                            await pipe.execute()
                return info
        raise AccountError(f"Token {token_id} finns inte.")

    async def principal_for_token(self, token: str, now: datetime) -> Principal | None:
        """The token's owner if the token exists and its owner is enabled; records the use."""
        if not token or len(token) > 200:
            return None
        digest = sha256(token)
        owner = _text(await self.redis.hget(f"{PREFIX}token:{digest}", "user"))
        if not owner:
            return None
        user = await self.get_user(owner)
        if user is None or user.disabled:
            return None
        await self.redis.hset(f"{PREFIX}token:{digest}", "last_used_at", _iso(now))
        return Principal(name=user.name, role=user.role, via="token")

    # --- sessions ---

    async def start_session(self, name: str, ttl_seconds: int, now: datetime) -> str:
        """A new session id for the cookie; only its hash is stored, with a TTL."""
        session_id = secrets.token_urlsafe(32)
        digest = sha256(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{PREFIX}session:{digest}", mapping={"user": name, "created_at": _iso(now)})
            pipe.expire(f"{PREFIX}session:{digest}", ttl_seconds)
            pipe.sadd(f"{PREFIX}user-sessions:{name}", digest)
            pipe.expire(f"{PREFIX}user-sessions:{name}", ttl_seconds)
            await pipe.execute()
        return session_id

    async def session_user(self, session_id: str) -> str | None:
        if not session_id or len(session_id) > 200:
            return None
        name = _text(await self.redis.hget(f"{PREFIX}session:{sha256(session_id)}", "user"))
        return name or None

    async def end_session(self, session_id: str) -> None:
        digest = sha256(session_id)
        name = await self.session_user(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{PREFIX}session:{digest}")
            if name:
                pipe.srem(f"{PREFIX}user-sessions:{name}", digest)
            await pipe.execute()
