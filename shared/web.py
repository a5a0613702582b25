"""Web pieces every service shares: templates, security headers, CSRF, body limit, login, health.

Staff and finance pages share one login: the session lives in Redis, which
all three services reach, and browsers send cookies to every port of a host.
Scripts use ``Authorization: Bearer``. Who may call which route is declared
with :func:`staff_page` / :func:`staff_api` (:mod:`shared.auth`).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import jinja2
from fastapi import FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.accounts import AccountStore, Role
from shared.auth import (
    SESSION_COOKIE,
    Forbidden,
    LoginRequired,
    RoleGuard,
    roles_text,
    staff_api,
    staff_page,
)
from shared.bodylimit import BodyLimitMiddleware
from shared.metrics import CONTENT_TYPE
from shared.money import format_sek
from shared.ratelimit import RateLimiter
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime

SHARED_TEMPLATES = FilePath(__file__).parent / "templates"
SHARED_STATIC = FilePath(__file__).parent / "static"
CSRF_COOKIE = "reglab_csrf"
CSRF_MAX_AGE = 8 * 3600

# Re-exported: services import the route guards from here.
__all__ = ["SESSION_COOKIE", "Forbidden", "LoginRequired", "Role", "RoleGuard", "staff_api", "staff_page"]


# A database row id from a URL: a number the database can hold, else 422 (the fuzzer found that a
# larger one gave a 500). SQLModel's int ids are INTEGER on PostgreSQL: 32 bits.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def make_templates(service_templates: FilePath) -> Jinja2Templates:
    """Service templates first, then the shared base layout; autoescape on, undefined is an error."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(service_templates),
            jinja2.FileSystemLoader(SHARED_TEMPLATES),
        ]),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["sek"] = format_sek
    return Jinja2Templates(env=env)


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response that does not set them itself.

    Plain ASGI rather than ``@app.middleware("http")`` (``BaseHTTPMiddleware``),
    which runs every request through an extra task and memory streams: this
    only edits the headers of the ``http.response.start`` message.
    """

    _PAIRS = tuple((name.lower().encode("latin-1"), value.encode("latin-1"))
                   for name, value in SECURITY_HEADERS.items())

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _value in headers}
                headers += [pair for pair in self._PAIRS if pair[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_common(app: FastAPI, settings: CommonSettings, runtime: ServiceRuntime) -> None:
    """Static files, security headers, body limit, ``/healthz``, ``/metrics``, login and the admin pages."""
    from shared.admin_web import admin_router  # imported here: it imports this module
    from shared.login import login_router

    app.mount("/static", StaticFiles(directory=SHARED_STATIC), name="static")
    app.state.accounts = AccountStore(runtime.redis, reserved=settings.admin_user)
    app.state.rate_limiter = RateLimiter(runtime.redis)
    app.state.audit_engine = runtime.engine
    app.state.service = runtime.service

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes,
                       upload_limit=settings.max_upload_bytes, upload_paths=settings.upload_paths)
    # Added last, so outermost: even a 413 from the body limit carries the headers.
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> JSONResponse:
        healthy, checks = await runtime.health()
        return JSONResponse({"status": "ok" if healthy else "unhealthy", "checks": checks},
                            status_code=200 if healthy else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(await runtime.metrics(), media_type=CONTENT_TYPE)

    app.include_router(login_router(settings))
    app.include_router(admin_router(settings, runtime))
    forbidden_templates = make_templates(SHARED_TEMPLATES)

    @app.exception_handler(LoginRequired)
    async def _redirect_to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden_page(request: Request, exc: Forbidden) -> Response:
        return forbidden_templates.TemplateResponse(
            request, "forbidden.html", {"user": exc.user, "needed": roles_text(exc.roles)}, status_code=403)


# --- CSRF: a random token in a cookie that the form must echo (double submit) ---

def csrf_token(request: Request) -> str:
    """The token for this browser; call :func:`set_csrf_cookie` on the response."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, settings: CommonSettings) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.environment == "production", max_age=CSRF_MAX_AGE)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))


