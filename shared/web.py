"""Web pieces every service shares: templates, security headers, CSRF, body limit, login, health.

Staff and finance pages share one login: the session lives in Redis, which
all three services reach, and browsers send cookies to every port of a host.
Scripts use ``Authorization: Bearer``. Who may call which route is declared
with :func:`staff_page` / :func:`staff_api` (:mod:`shared.auth`).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
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
from shared.csrf import CSRF_COOKIE, CSRF_MAX_AGE, CsrfRejected, csrf_token, csrf_valid, set_csrf_cookie
from shared.metrics import CONTENT_TYPE
from shared.money import format_sek
from shared.ratelimit import RateLimiter
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime

SHARED_TEMPLATES = FilePath(__file__).parent / "templates"
SHARED_STATIC = FilePath(__file__).parent / "static"
log = structlog.get_logger(__name__)

OUT_OF_RANGE = "Ett värde i begäran är för stort eller ogiltigt (t.ex. ett id som inte kan finnas)."

# Re-exported: services import the route guards from here.
__all__ = ["CSRF_COOKIE", "CSRF_MAX_AGE", "SESSION_COOKIE", "Forbidden", "LoginRequired", "Role", "RoleGuard",
           "csrf_token", "csrf_valid", "set_csrf_cookie", "staff_api", "staff_page"]


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


def service_app(*, title: str, version: str, lifespan: Any, description: str = "") -> FastAPI:
    """A service's FastAPI app, without the /docs and /redoc pages.

    FastAPI's Swagger and ReDoc pages run an inline script and scripts from a CDN,
    which our Content-Security-Policy forbids, so they could never work here.
    ``/openapi.json`` stays: it is the API description, for any OpenAPI viewer.
    """
    return FastAPI(title=title, version=version, description=description, lifespan=lifespan,
                   docs_url=None, redoc_url=None)


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

    # A number or text from a request that the database cannot hold (an id past 64 bits on SQLite,
    # past 32 on PostgreSQL; a NUL in PostgreSQL text) is the caller's error, not the server's.
    # Routes should bound their input (RowId); this catches what a new route forgets (the fuzzer's finds).
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> Response:
        log.warning("request value refused by the database", path=request.url.path,
                    error=exc.__class__.__name__)
        return JSONResponse({"detail": OUT_OF_RANGE}, status_code=422)

    @app.exception_handler(CsrfRejected)
    async def _csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        return forbidden_templates.TemplateResponse(
            request, "csrf_rejected.html", {"user": exc.user, "message": exc.message}, status_code=400)

    @app.exception_handler(Forbidden)
    async def _forbidden_page(request: Request, exc: Forbidden) -> Response:
        return forbidden_templates.TemplateResponse(
            request, "forbidden.html", {"user": exc.user, "needed": roles_text(exc.roles)}, status_code=403)
