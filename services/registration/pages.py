"""The web pages: the sign-up form (``/``), its receipt (``/kvitto/{token}``) and the staff overview."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData

from services.registration.api import RECEIPT_ROUTE, correlation_id, receipt_path
from services.registration.catalogue import ACTIVE
from services.registration.domain import default_year, display_org_number, percent
from services.registration.handlers import (
    list_networks,
    load_receipt,
    membership_overview,
    submit_signup,
)
from services.registration.settings import RegistrationSettings
from services.registration.validation import TEXT_FIELDS, SignupInvalid, no_policy_message
from shared.digits import is_digits
from shared.events import utc_now
from shared.policy import Fee, FeePolicy, PolicyError, fee_for
from shared.ratelimit import limit_client, too_many_text
from shared.runtime import ServiceRuntime
from shared.web import csrf_token, csrf_valid, make_templates, set_csrf_cookie, staff_page

log = structlog.get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
HONEYPOT = "website"
EXPIRED = "Formuläret har gått ut. Kontrollera uppgifterna och skicka igen."
REFUSED = "Anmälan kunde inte tas emot."
HAS_ERRORS = "Anmälan innehåller fel. Rätta de markerade fälten och skicka igen."


@dataclass(frozen=True)
class NetworkOption:
    code: str
    name: str
    description: str
    partners: str
    fee: Fee


@dataclass
class FormState:
    """What the user typed, kept when the form is shown again."""

    values: dict[str, str]
    networks: list[str]
    year: str

    @classmethod
    def from_form(cls, form: FormData) -> FormState:
        def text(key: str) -> str:
            value = form.get(key)
            return value if isinstance(value, str) else ""

        return cls(values={f.key: text(f.form_name) for f in TEXT_FIELDS},
                   networks=[v for v in form.getlist("networks") if isinstance(v, str)],
                   year=text("year"))

    def as_data(self) -> dict[str, Any]:
        return {**self.values, "networks": self.networks, "year": self.year}


def pages_router(runtime: ServiceRuntime, policies: dict[int, FeePolicy],
                 settings: RegistrationSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = make_templates(TEMPLATES)
    templates.env.filters["orgnr"] = display_org_number
    templates.env.filters["percent"] = percent
    latest = default_year(policies)
    if latest is None:
        raise PolicyError("no fee policy found: the sign-up form needs at least one year's policy")

    def network_choices(policy: FeePolicy) -> tuple[list[NetworkOption], list[str]]:
        with Session(runtime.engine) as session:
            rows = list_networks(session)
        active = [NetworkOption(n.code, n.name, n.description, n.partners, fee_for(policy, n.code))
                  for n in rows if n.status == ACTIVE]
        return active, [n.name for n in rows if n.status != ACTIVE]

    async def render_form(request: Request, state: FormState, *, errors: dict[str, str] | None = None,
                          alert: str = "", status: int = 200,
                          headers: dict[str, str] | None = None) -> Response:
        errors = dict(errors or {})
        chosen = int(state.year) if is_digits(state.year) else None
        if chosen is not None and chosen not in policies:
            errors.setdefault("year", no_policy_message(chosen, policies))
        # Fees are shown for the chosen year, or for the default year when it has no policy.
        policy = policies.get(chosen or 0) or policies[latest]
        active, proposed = await anyio.to_thread.run_sync(network_choices, policy)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "signup.html", {
            "user": None, "csrf_token": token, "values": state.values, "selected": state.networks,
            "year": policy.year, "years": sorted(policies, reverse=True), "policy": policy,
            "networks": active, "proposed": proposed, "errors": errors, "alert": alert,
            "honeypot": HONEYPOT,
        }, status_code=status, headers=headers)
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/")
    async def signup_form(request: Request, year: str = "") -> Response:
        return await render_form(request, FormState(values={}, networks=[], year=year.strip()))

    @router.post("/")
    async def signup_submit(request: Request) -> Response:
        form = await request.form()
        state = FormState.from_form(form)
        rate = await limit_client(request, "signup", settings.signup_rate_limit,
                                  settings.signup_rate_window_seconds)
        if not rate.allowed:
            return await render_form(request, state, alert=too_many_text(rate), status=429,
                                     headers={"Retry-After": str(rate.retry_after)})
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render_form(request, state, alert=EXPIRED, status=400)
        if form.get(HONEYPOT):
            log.warning("signup refused: honeypot filled")
            return await render_form(request, state, alert=REFUSED, status=400)
        try:
            result = await anyio.to_thread.run_sync(partial(
                submit_signup, runtime.engine, state.as_data(), policies=policies, now=utc_now(),
                correlation_id=correlation_id(request),
            ))
        except SignupInvalid as invalid:
            return await render_form(request, state, errors=invalid.errors, alert=HAS_ERRORS, status=422)
        runtime.relay.notify()
        return RedirectResponse(receipt_path(result.token), status_code=303)

    @router.get(RECEIPT_ROUTE, name="receipt")
    async def receipt(request: Request, token: str) -> Response:
        def load() -> Any:
            with Session(runtime.engine) as session:
                return load_receipt(session, token)

        found = await anyio.to_thread.run_sync(load)
        if found is None:
            raise HTTPException(404, "Kvittot finns inte.")
        return templates.TemplateResponse(request, "receipt.html", {"user": None, "receipt": found},
                                          headers={"Cache-Control": "no-store"})

    staff = Depends(staff_page(settings, "staff"))

    @router.get("/staff/signups")
    async def staff_signups(request: Request, user: str = staff) -> Response:
        def load() -> Any:
            with Session(runtime.engine) as session:
                return membership_overview(session)

        rows = await anyio.to_thread.run_sync(load)
        return templates.TemplateResponse(request, "staff_signups.html", {"user": user, "rows": rows})

    return router

