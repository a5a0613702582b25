"""``/login`` and ``/logout``, the same in every service: one session works on all three.

A login checks the CSRF token, the per-address rate limit and the lock-outs,
then the password (the bootstrap admin from the environment, else an account
in :mod:`shared.accounts`). A failure is answered after a delay that grows
with the account's failures; after ``LOGIN_MAX_FAILURES_PER_USER`` failures
for an account, or ``LOGIN_MAX_FAILURES_PER_ADDRESS`` from one address, logins
are refused for ``LOGIN_LOCKOUT_SECONDS``. Every success, failure and
refusal is in the audit log. Nothing logs the password.

The session cookie holds a random id (only its hash is in Redis, with a TTL);
it is HttpOnly, SameSite=Lax and Secure outside development. Logout deletes the
session in Redis, so the cookie is dead in every service.
"""

from __future__ import annotations

import asyncio
import hmac

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from redis.exceptions import RedisError

from shared.auth import SESSION_COOKIE, UNAVAILABLE, accounts_of, audit_request, client_address
from shared.events import utc_now
from shared.ratelimit import RateLimiter, retry_text
from shared.settings import CommonSettings
from shared.web import SHARED_TEMPLATES, csrf_token, csrf_valid, make_templates, set_csrf_cookie

log = structlog.get_logger(__name__)

WRONG = "Fel användarnamn eller lösenord."
MAX_DELAY_SECONDS = 5.0


def login_router(settings: CommonSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = make_templates(SHARED_TEMPLATES)

    def render(request: Request, next_url: str, error: str = "", status: int = 200,
               headers: dict[str, str] | None = None) -> Response:
        token = csrf_token(request)
        response = templates.TemplateResponse(
            request, "login.html",
            {"next_url": next_url, "error": error, "csrf_token": token, "user": None},
            status_code=status, headers=headers,
        )
        set_csrf_cookie(response, token, settings)
        return response

    def too_many(request: Request, next_url: str, retry_after: int) -> Response:
        return render(request, next_url,
                      f"För många inloggningsförsök. Försök igen {retry_text(retry_after)}.", 429,
                      headers={"Retry-After": str(retry_after)})

    @router.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return render(request, safe_next(next))

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        next_url = safe_next(str(form.get("next", "/")))
        if not csrf_valid(request, str(form.get("csrf_token", ""))):
            return render(request, next_url, "Formuläret har gått ut. Försök igen.", 400)
        username = str(form.get("username", "")).strip().lower()[:100]
        password = str(form.get("password", ""))
        address = client_address(request)
        limiter: RateLimiter = request.app.state.rate_limiter
        user_key, address_key = f"login-fail:user:{username}", f"login-fail:addr:{address}"
        try:
            rate = await limiter.hit(f"login:addr:{address}", settings.login_rate_limit,
                                     settings.login_rate_window_seconds)
            if not rate.allowed:
                await audit_request(request, actor=username or "(tomt)", action="login.refused",
                                    subject=f"user:{username}", detail="för många inloggningsförsök")
                return too_many(request, next_url, rate.retry_after)
            for key, limit in ((user_key, settings.login_max_failures_per_user),
                               (address_key, settings.login_max_failures_per_address)):
                failures, left = await limiter.count(key)
                if limit and failures >= limit:
                    await audit_request(request, actor=username or "(tomt)", action="login.refused",
                                        subject=f"user:{username}", detail="spärrad efter misslyckade försök")
                    return too_many(request, next_url, max(left, 1))
            accounts = accounts_of(request)
            if username == settings.admin_user.strip().lower():
                valid = hmac.compare_digest(password.encode(), settings.admin_password.encode())
            else:
                valid = await accounts.authenticate(username, password) is not None
            if not valid:
                decision = await limiter.hit(user_key, 1_000_000, settings.login_lockout_seconds)
                await limiter.hit(address_key, 1_000_000, settings.login_lockout_seconds)
                await audit_request(request, actor=username or "(tomt)", action="login.failure",
                                    subject=f"user:{username}")
                log.info("login failed", user=username, address=address)
                await asyncio.sleep(failure_delay(settings.login_failure_delay_seconds, decision.count))
                return render(request, next_url, WRONG, 401)
            await limiter.reset(user_key)
            session_id = await accounts.start_session(username, settings.session_max_age_seconds, utc_now())
        except (RedisError, OSError) as error:
            # Fail closed: without Redis there are no sessions, so no login.
            log.warning("login unavailable: identity store unreachable", error=error.__class__.__name__)
            return render(request, next_url, UNAVAILABLE, 503)
        await audit_request(request, actor=username, action="login.success", subject=f"user:{username}")
        log.info("login", user=username, address=address)
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax",
                            max_age=settings.session_max_age_seconds,
                            secure=settings.deployed)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        # No CSRF token needed: the session cookie is SameSite=Lax, so a cross-site POST
        # carries no session and cannot end one.
        session_id = request.cookies.get(SESSION_COOKIE, "")
        if session_id:
            try:
                name = await accounts_of(request).session_user(session_id)
                await accounts_of(request).end_session(session_id)
            except (RedisError, OSError):
                name = None
            if name:
                await audit_request(request, actor=name, action="logout", subject=f"user:{name}")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax",
                               secure=settings.deployed)
        return response

    return router


def failure_delay(step_seconds: float, failures: int) -> float:
    """Slowed down: each failure for the account waits ``step`` longer than the last, up to a ceiling."""
    return min(step_seconds * max(failures, 0), MAX_DELAY_SECONDS)


def safe_next(next_url: str) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url
