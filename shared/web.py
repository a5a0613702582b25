"""Web pieces every service shares: templates, security headers, CSRF, staff login, health.

Staff and finance pages share one login: the session cookie is signed with
``REGLAB_SECRET_KEY``, which all three services know, and browsers send
cookies to every port of a host. Scripts use ``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import CONTENT_TYPE
from shared.money import format_sek
from shared.settings import CommonSettings

if TYPE_CHECKING:
    from shared.runtime import ServiceRuntime

SHARED_TEMPLATES = Path(__file__).parent / "templates"
SHARED_STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "reglab_session"
CSRF_COOKIE = "reglab_csrf"
SESSION_MAX_AGE = 8 * 3600


def make_templates(service_templates: Path) -> Jinja2Templates:
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
    """Static files, security headers, ``/healthz``, ``/metrics`` and the login pages."""
    app.mount("/static", StaticFiles(directory=SHARED_STATIC), name="static")

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

    @app.exception_handler(LoginRequired)
    async def _redirect_to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)


# --- CSRF: a random token in a cookie that the form must echo (double submit) ---

def csrf_token(request: Request) -> str:
    """The token for this browser; call :func:`set_csrf_cookie` on the response."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, settings: CommonSettings) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.environment == "production", max_age=SESSION_MAX_AGE)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))


# --- Staff login and bearer tokens ---

def _serializer(settings: CommonSettings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="reglab-session")


def session_user(request: Request, settings: CommonSettings) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    user = data.get("user") if isinstance(data, dict) else None
    return user if isinstance(user, str) else None


def bearer_valid(request: Request, settings: CommonSettings) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), settings.api_token)


class LoginRequired(Exception):
    """Raised for a page that needs a login; answered with a redirect to ``/login``."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


# Who may act: "staff" (the secretariat), "finance", and "admin" (everything).
Role = Literal["staff", "finance", "admin"]


def staff_api(settings: CommonSettings, *roles: Role) -> Callable[[Request], str]:
    """Dependency for JSON endpoints: a bearer token or a session, else 401.

    ``roles`` names who may call the endpoint (admin always may). Until user
    accounts exist the single configured admin holds every role.
    """

    def dependency(request: Request) -> str:
        if bearer_valid(request, settings):
            return "api-token"
        user = session_user(request, settings)
        if user is None:
            raise HTTPException(401, "Inloggning krävs", headers={"WWW-Authenticate": "Bearer"})
        return user

    return dependency


def staff_page(settings: CommonSettings, *roles: Role) -> Callable[[Request], str]:
    """Dependency for HTML pages: a session, else a redirect to the login page (``roles`` as for the API)."""

    def dependency(request: Request) -> str:
        user = session_user(request, settings)
        if user is None:
            raise LoginRequired(request.url.path)
        return user

    return dependency


def login_router(settings: CommonSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = make_templates(SHARED_TEMPLATES)

    def render(request: Request, next_url: str, error: str = "", status: int = 200) -> Response:
        token = csrf_token(request)
        response = templates.TemplateResponse(
            request, "login.html",
            {"next_url": next_url, "error": error, "csrf_token": token, "user": None},
            status_code=status,
        )
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return render(request, _safe_next(next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        next_url = _safe_next(str(form.get("next", "/")))
        if not csrf_valid(request, str(form.get("csrf_token", ""))):
            return render(request, next_url, "Formuläret har gått ut. Försök igen.", 400)
        username = str(form.get("username", ""))
        password = str(form.get("password", ""))
        if not (hmac.compare_digest(username, settings.admin_user)
                and hmac.compare_digest(password, settings.admin_password)):
            return render(request, next_url, "Fel användarnamn eller lösenord.", 401)
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(SESSION_COOKIE, _serializer(settings).dumps({"user": username}),
                            httponly=True, samesite="lax", max_age=SESSION_MAX_AGE,
                            secure=settings.environment == "production")
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return router


def _safe_next(next_url: str) -> str:
    """Only same-site paths: never redirect a login to another host."""
    return next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
