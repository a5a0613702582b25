"""CSRF: a random token in a cookie that every form must echo in a hidden field (double submit).

The cookie is SameSite=Strict and HttpOnly; a page puts the same value in its
forms. Every POST to a staff page is checked by its route guard
(:mod:`shared.auth`) before the handler runs, so a form handler cannot forget
it; public forms (sign-up, login) check it themselves with :func:`csrf_valid`.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

from shared.settings import CommonSettings

CSRF_COOKIE = "reglab_csrf"
CSRF_MAX_AGE = 8 * 3600
EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."


class CsrfRejected(Exception):
    """A form posted without the page's token: answered 400 with a Swedish page, nothing done."""

    def __init__(self, user: str, message: str = EXPIRED) -> None:
        self.user = user
        self.message = message


def csrf_token(request: Request) -> str:
    """The token for this browser; call :func:`set_csrf_cookie` on the response."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, settings: CommonSettings) -> None:
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=settings.deployed, max_age=CSRF_MAX_AGE)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))


async def form_csrf_valid(request: Request) -> bool:
    """The posted form's token matches the cookie (the form is parsed once; the handler gets it cached)."""
    form = await request.form()
    submitted = form.get("csrf_token")
    return csrf_valid(request, submitted if isinstance(submitted, str) else None)
