"""Who is calling, and may they: the ``staff_page`` / ``staff_api`` dependencies every staff route declares.

A route states the roles it needs: ``Depends(staff_page(settings, "finance"))``.
Admin passes everywhere; no roles at all means admin only. The returned
dependency carries its decision (``.roles``, ``.kind``) so the route walk in
``tests/security`` can check every route of every service.

- APIs: ``Authorization: Bearer`` (the bootstrap ``REGLAB_API_TOKEN``, role
  admin, or a user's token) or the session cookie; else 401, wrong role 403.
- Pages: the session cookie; else a redirect to ``/login``, wrong role a
  Swedish 403 page. A POST to a page must carry the form's CSRF token
  (:mod:`shared.csrf`), checked here before the handler runs: else 400.

Identity lives in Redis (:mod:`shared.accounts`), so a disabled user, an
ended session or a revoked token stops working in every service at once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

import anyio
import structlog
from fastapi import HTTPException, Request
from redis.exceptions import RedisError
from sqlalchemy import Engine

from shared.accounts import ROLE_LABELS, AccountStore, Principal, Role, allowed
from shared.audit import record_act
from shared.csrf import CsrfRejected, form_csrf_valid
from shared.db import transaction
from shared.events import utc_now
from shared.settings import CommonSettings

log = structlog.get_logger(__name__)

SESSION_COOKIE = "reglab_session"
UNAVAILABLE = "Inloggningen går inte att nå just nu. Försök igen om en stund."


class LoginRequired(Exception):
    """Raised for a page that needs a login; answered with a redirect to ``/login``."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class Forbidden(Exception):
    """Raised for a page the user's role may not see; answered with a Swedish 403 page."""

    def __init__(self, user: str, roles: tuple[str, ...]) -> None:
        self.user = user
        self.roles = roles


def roles_text(roles: tuple[str, ...]) -> str:
    """Swedish, for messages: "Ekonomi eller Administratör"."""
    names = [ROLE_LABELS[role] for role in roles if role != "admin"] + [ROLE_LABELS["admin"]]
    return " eller ".join(names)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def accounts_of(request: Request) -> AccountStore:
    store: AccountStore = request.app.state.accounts
    return store


async def current_principal(request: Request, settings: CommonSettings, *,
                            bearer: bool = True) -> Principal | None:
    """The caller by bearer token (when ``bearer``) or session; ``None`` when anonymous or invalid."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    accounts = accounts_of(request)
    principal: Principal | None = None
    try:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if bearer and scheme.lower() == "bearer" and token:
            if hmac.compare_digest(token.encode(), settings.api_token.encode()):
                principal = Principal(name="api-token", role="admin", via="bootstrap-token")
            else:
                principal = await accounts.principal_for_token(token, utc_now())
        else:
            session_id = request.cookies.get(SESSION_COOKIE, "")
            name = await accounts.session_user(session_id) if session_id else None
            if name is not None:
                user = await accounts.get_user(name)
                if user is not None:
                    principal = None if user.disabled else Principal(user.name, user.role, "session")
                elif name == settings.admin_user.strip().lower():  # login stores names lower-case
                    principal = Principal(name, "admin", "session")
    except (RedisError, OSError) as error:
        log.warning("identity store unreachable", error=error.__class__.__name__)
        raise HTTPException(503, UNAVAILABLE) from None
    if principal is not None:
        request.state.principal = principal
    return principal


@dataclass(frozen=True, eq=False)  # hashed by identity: FastAPI caches dependencies by callable
class RoleGuard:
    """A FastAPI dependency that admits the given roles (admin always); returns the user's name."""

    settings: CommonSettings
    roles: tuple[Role, ...]
    kind: Literal["api", "page"]

    async def __call__(self, request: Request) -> str:
        if self.kind == "api":
            principal = await current_principal(request, self.settings)
            if principal is None:
                raise HTTPException(401, "Inloggning eller API-token krävs.",
                                    headers={"WWW-Authenticate": "Bearer"})
            if not allowed(principal.role, self.roles):
                raise HTTPException(403, f"Din roll saknar behörighet här (kräver {roles_text(self.roles)}).")
            return principal.name
        principal = await current_principal(request, self.settings, bearer=False)
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target if request.method == "GET" else request.url.path)
        if not allowed(principal.role, self.roles):
            raise Forbidden(principal.name, self.roles)
        if request.method == "POST" and not await form_csrf_valid(request):
            raise CsrfRejected(principal.name)
        return principal.name


def staff_api(settings: CommonSettings, *roles: Role) -> RoleGuard:
    """Dependency for JSON endpoints: a bearer token or a session with one of ``roles`` (admin always)."""
    return RoleGuard(settings, tuple(roles), "api")


def staff_page(settings: CommonSettings, *roles: Role) -> RoleGuard:
    """Dependency for HTML pages: a session with one of ``roles`` (admin always), else login or 403."""
    return RoleGuard(settings, tuple(roles), "page")


def _write_audit(engine: Engine, actor: str, action: str, subject: str, detail: str,
                 remote_addr: str) -> None:
    with transaction(engine) as session:
        record_act(session, actor=actor, action=action, subject=subject, detail=detail,
                   remote_addr=remote_addr)


async def audit_request(request: Request, *, actor: str, action: str, subject: str, detail: str = "") -> None:
    """Append an audit entry for an act that has no database transaction of its own (logins, Redis acts)."""
    engine: Engine = request.app.state.audit_engine
    await anyio.to_thread.run_sync(_write_audit, engine, actor[:200], action, subject[:200], detail,
                                   client_address(request)[:64])
