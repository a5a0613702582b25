"""The secretariat's privacy page (``/staff/privacy``) and the erasure API: export and erase by email.

The page shows registration's own export and links the other services'
exports (``GET /api/v1/privacy/export?email=`` on each, behind the same
login), and erases on request after a confirmation. ``POST
/api/v1/privacy/erase`` does the same for scripts. The erasure also deletes
the dead letters (of every service, one Redis) that name the address.
"""

# No "from __future__ import annotations": FastAPI resolves the Annotated aliases at runtime.

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.registration.privacy import ErasureReport, erase_person
from services.registration.settings import RegistrationSettings
from shared.auth import client_address
from shared.deadletters import forget_dead_letters
from shared.events import utc_now
from shared.privacy import Outcome, PrivacyRegistry, normalise_email
from shared.runtime import ServiceRuntime
from shared.web import csrf_token, csrf_valid, make_templates, set_csrf_cookie, staff_api, staff_page

TEMPLATES = Path(__file__).parent / "templates"
EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."
CONFIRM = "Kryssa i att personen har begärt radering."


class ErasureIn(BaseModel):
    email: str = Field(max_length=254, examples=["anna.andersson@region.example"])


class OutcomeOut(BaseModel):
    erased: int
    kept: int
    kept_because: str


class ErasureOut(BaseModel):
    erasure_id: str
    email: str
    registration: dict[str, OutcomeOut] = Field(
        description="what registration did per table; invoicing and notifications follow via person.erased")


def privacy_pages_router(runtime: ServiceRuntime, registry: PrivacyRegistry,
                         settings: RegistrationSettings) -> APIRouter:
    router = APIRouter()
    templates = make_templates(TEMPLATES)
    PageUser = Annotated[str, Depends(staff_page(settings, "staff"))]
    ApiUser = Annotated[str, Depends(staff_api(settings, "staff"))]

    async def erase(request: Request, user: str, email: str) -> ErasureReport:
        # Dead letters of every service live in this one Redis: erased here, before the
        # database, so the audited report counts them (erasing them twice is harmless).
        dead_letters = Outcome(erased=await forget_dead_letters(runtime.redis, email))
        report = await anyio.to_thread.run_sync(partial(
            erase_person, runtime.engine, registry, email, requested_by=user,
            remote_addr=client_address(request), now=utc_now(),
            erased_elsewhere={"dead_letters": dead_letters}))
        runtime.relay.notify()
        return report

    def export_links(email: str) -> dict[str, str]:
        query = urlencode({"email": email})
        return {"registration": f"/api/v1/privacy/export?{query}",
                "invoicing": f"{settings.invoicing_public_url}/api/v1/privacy/export?{query}",
                "notifications": f"{settings.notifications_public_url}/api/v1/privacy/export?{query}"}

    async def render(request: Request, user: str, email: str = "", *, error: str = "",
                     report: ErasureReport | None = None, status: int = 200) -> Response:
        document = None
        if email and not error:
            def load() -> Any:
                with Session(runtime.engine) as session:
                    return registry.export(session, email)

            document = json.dumps(await anyio.to_thread.run_sync(load), ensure_ascii=False, indent=2)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "staff_privacy.html", {
            "user": user, "email": email, "error": error, "document": document, "report": report,
            "links": export_links(email) if email and not error else {}, "csrf_token": token,
        }, status_code=status, headers={"Cache-Control": "no-store"})
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/staff/privacy", include_in_schema=False)
    async def privacy_page(request: Request, user: PageUser,
                           email: Annotated[str, Query(max_length=254)] = "") -> Response:
        if not email.strip():
            return await render(request, user)
        try:
            return await render(request, user, normalise_email(email))
        except ValueError as invalid:
            return await render(request, user, email, error=str(invalid), status=422)

    @router.post("/staff/privacy/erase", include_in_schema=False)
    async def erase_form(request: Request, user: PageUser) -> Response:
        form = await request.form()
        given = str(form.get("email") or "")[:254]
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render(request, user, given, error=EXPIRED, status=400)
        try:
            email = normalise_email(given)
        except ValueError as invalid:
            return await render(request, user, given, error=str(invalid), status=422)
        if form.get("confirm") != "yes":
            return await render(request, user, email, error=CONFIRM, status=422)
        report = await erase(request, user, email)
        return await render(request, user, email, report=report)

    @router.post("/api/v1/privacy/erase", tags=["privacy"],
                 responses={422: {"description": "no email address"}})
    async def erase_api(request: Request, body: ErasureIn, user: ApiUser) -> ErasureOut:
        """Erase the person here and publish person.erased, so invoicing and notifications erase theirs."""
        try:
            email = normalise_email(body.email)
        except ValueError as invalid:
            raise HTTPException(422, str(invalid)) from None
        report = await erase(request, user, email)
        return ErasureOut(erasure_id=str(report.erasure_id), email=email, registration={
            name: OutcomeOut(erased=o.erased, kept=o.kept, kept_because=o.kept_because if o.kept else "")
            for name, o in report.outcomes.items()})

    return router
