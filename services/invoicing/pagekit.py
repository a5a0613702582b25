"""What the finance pages share: templates with their filters, CSRF-carrying rendering, the actor."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from services.invoicing.domain import format_org_number, format_rate
from services.invoicing.finance_queries import STATUS_LABELS
from services.invoicing.payments.handlers import Actor
from shared.settings import CommonSettings
from shared.web import csrf_token, make_templates, set_csrf_cookie

# Confirmations after a successful form (POST, then redirect here with ?klart=<key>).
DONE = {
    "betalning": "Betalningen är registrerad.",
    "matchad": "Betalningen är matchad mot fakturan.",
    "kostnad": "Kostnaden är sparad.",
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@cache
def finance_templates() -> Jinja2Templates:
    templates = make_templates(Path(__file__).parent / "templates")
    templates.env.filters["rate"] = format_rate
    templates.env.filters["orgnr"] = format_org_number
    templates.env.globals.update(status_labels=STATUS_LABELS)
    return templates


def render(request: Request, settings: CommonSettings, name: str, context: Mapping[str, Any],
           status_code: int = 200) -> Response:
    """A page with a CSRF token for its forms (double submit: cookie and field)."""
    token = csrf_token(request)
    done = DONE.get(request.query_params.get("klart", ""), "")
    response = finance_templates().TemplateResponse(
        request, name, {"csrf_token": token, "done": done, "error": "", **context}, status_code=status_code)
    set_csrf_cookie(response, token, settings)
    return response


def actor_of(request: Request, user: str) -> Actor:
    return Actor(name=user, remote_addr=request.client.host if request.client else "")


def form_text(form: Mapping[str, Any], name: str, limit: int = 500) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""
