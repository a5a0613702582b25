"""Staff pages and API for one membership: cancel it, keep it out of the yearly renewal.

Pages (CSRF on every form): ``/staff/memberships``, ``/staff/memberships/{id}``,
``POST /staff/memberships/{id}/cancel``, ``POST /staff/memberships/{id}/renewal``.
API: ``GET /api/v1/memberships``, ``GET /api/v1/memberships/{id}``,
``POST /api/v1/memberships/{id}/cancel``, ``PUT /api/v1/memberships/{id}/renewal-opt-out``.
Roles: staff and finance.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factory at runtime.

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from services.registration.cancellations import (
    STATUS_LABELS,
    ActInvalid,
    ActResult,
    MembershipNotFound,
    MembershipRow,
    audit_of,
    cancel_membership,
    get_membership,
    list_memberships,
    set_renewal_opt_out,
)
from services.registration.domain import display_org_number
from services.registration.settings import RegistrationSettings
from shared.db import transaction
from shared.digits import is_digits
from shared.events import utc_now
from shared.runtime import ServiceRuntime
from shared.web import csrf_token, csrf_valid, make_templates, set_csrf_cookie, staff_api, staff_page

T = TypeVar("T")
TEMPLATES = Path(__file__).parent / "templates"
EXPIRED = "Formuläret har gått ut. Försök igen."
NOTICES = {
    "cancelled": "Medlemskapet är avslutat. Fakturering krediterar avgiften om den var fakturerad.",
    "already": "Medlemskapet var redan avslutat; inget ändrades.",
    "opted_out": "Medlemskapet förnyas inte vid nästa årsförnyelse.",
    "opted_in": "Medlemskapet förnyas vid nästa årsförnyelse.",
    "unchanged": "Inget ändrades.",
}


class MembershipOut(BaseModel):
    id: int
    network: str = Field(description="Nätverkets kod")
    network_name: str
    year: int
    status: str = Field(description="active eller cancelled")
    organisation_id: int
    organisation_name: str
    org_number: str
    renewal_opt_out: bool = Field(description="true: förnyas inte vid årsförnyelsen")
    cancellation_reason: str


class ActOut(BaseModel):
    membership: MembershipOut
    changed: bool = Field(description="false om medlemskapet redan var i det läget (inget ändrades)")


class CancelIn(BaseModel):
    reason: str = Field("", description="Varför medlemskapet avslutas (högst 300 tecken)")


class OptOutIn(BaseModel):
    opt_out: bool = Field(description="true: förnya inte medlemskapet vid nästa årsförnyelse")


def membership_out(row: MembershipRow) -> MembershipOut:
    return MembershipOut(id=row.id, network=row.network_code, network_name=row.network_name, year=row.year,
                         status=row.status, organisation_id=row.organisation_id,
                         organisation_name=row.organisation_name, org_number=row.org_number,
                         renewal_opt_out=row.renewal_opt_out, cancellation_reason=row.cancellation_reason)


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": {}}, status_code=status)


def remote(request: Request) -> str:
    return request.client.host if request.client else ""


def membership_router(runtime: ServiceRuntime, settings: RegistrationSettings) -> APIRouter:
    router = APIRouter()
    engine = runtime.engine
    templates = make_templates(TEMPLATES)
    templates.env.filters["orgnr"] = display_org_number
    templates.env.globals["membership_status"] = STATUS_LABELS
    ApiUser = Annotated[str, Depends(staff_api(settings, "staff", "finance"))]
    PageUser = Annotated[str, Depends(staff_page(settings, "staff", "finance"))]

    async def read(work: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(engine) as session:
                return work(session)

        return await anyio.to_thread.run_sync(run)

    async def write(work: Callable[[Session], T]) -> T:
        def run() -> T:
            with transaction(engine) as session:
                return work(session)

        result = await anyio.to_thread.run_sync(run)
        runtime.relay.notify()
        return result

    # --- API ---

    @router.get("/api/v1/memberships", response_model=list[MembershipOut], tags=["memberships"])
    async def api_list(user: ApiUser, year: Annotated[int | None, Query()] = None,
                       org_number: Annotated[str, Query(max_length=20)] = "") -> Any:
        """Memberships, newest year first; filter by year and organisationsnummer."""
        rows = await read(lambda session: list_memberships(session, year=year, org_number=org_number))
        return [membership_out(row) for row in rows]

    @router.get("/api/v1/memberships/{membership_id}", response_model=MembershipOut, tags=["memberships"],
                responses={404: {}})
    async def api_get(membership_id: int, user: ApiUser) -> Any:
        try:
            return membership_out(await read(lambda session: get_membership(session, membership_id)))
        except MembershipNotFound as missing:
            return _error(404, str(missing))

    async def api_act(work: Callable[[Session], ActResult]) -> Any:
        try:
            result = await write(work)
        except MembershipNotFound as missing:
            return _error(404, str(missing))
        except ActInvalid as invalid:
            return _error(422, str(invalid))
        return ActOut(membership=membership_out(result.membership), changed=result.changed)

    @router.post("/api/v1/memberships/{membership_id}/cancel", response_model=ActOut, tags=["memberships"],
                 responses={404: {}, 422: {}})
    async def api_cancel(membership_id: int, user: ApiUser, request: Request,
                         body: CancelIn | None = None) -> Any:
        """Cancel a membership (publishes ``membership.cancelled``); cancelling again changes nothing."""
        reason = body.reason if body else ""
        return await api_act(lambda session: cancel_membership(
            session, membership_id, actor=user, reason=reason, now=utc_now(), remote_addr=remote(request)))

    @router.put("/api/v1/memberships/{membership_id}/renewal-opt-out", response_model=ActOut,
                tags=["memberships"], responses={404: {}})
    async def api_opt_out(membership_id: int, body: OptOutIn, user: ApiUser, request: Request) -> Any:
        """Keep a membership out of the yearly renewal (``opt_out: true``), or put it back."""
        return await api_act(lambda session: set_renewal_opt_out(
            session, membership_id, body.opt_out, actor=user, now=utc_now(), remote_addr=remote(request)))

    # --- Pages ---

    @router.get("/staff/memberships", include_in_schema=False)
    async def memberships_page(request: Request, user: PageUser, year: str = "",
                               org_number: str = "") -> Response:
        chosen = int(year) if is_digits(year) else None
        rows = await read(lambda session: list_memberships(session, year=chosen, org_number=org_number[:20]))
        return templates.TemplateResponse(request, "staff_memberships.html", {
            "user": user, "rows": rows, "year": year, "org_number": org_number[:20]})

    async def detail(request: Request, user: str, membership_id: int, *, notice: str = "", error: str = "",
                     status: int = 200) -> Response:
        try:
            row, audit = await read(lambda session: (get_membership(session, membership_id),
                                                     audit_of(session, membership_id)))
        except MembershipNotFound as missing:
            return templates.TemplateResponse(request, "staff_membership.html", {
                "user": user, "row": None, "audit": [], "notice": "", "error": str(missing),
                "csrf_token": ""},
                status_code=404)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "staff_membership.html", {
            "user": user, "row": row, "audit": audit, "notice": notice, "error": error, "csrf_token": token,
        }, status_code=status)
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/staff/memberships/{membership_id}", include_in_schema=False)
    async def membership_page(membership_id: int, request: Request, user: PageUser,
                              notice: str = "") -> Response:
        return await detail(request, user, membership_id, notice=NOTICES.get(notice, ""))

    async def page_act(request: Request, user: str, membership_id: int,
                       work: Callable[[Session], ActResult], done: str, unchanged: str) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await detail(request, user, membership_id, error=EXPIRED, status=400)
        try:
            result = await write(work)
        except MembershipNotFound as missing:
            return await detail(request, user, membership_id, error=str(missing), status=404)
        except ActInvalid as invalid:
            return await detail(request, user, membership_id, error=str(invalid), status=422)
        notice = done if result.changed else unchanged
        return RedirectResponse(f"/staff/memberships/{membership_id}?notice={notice}", status_code=303)

    @router.post("/staff/memberships/{membership_id}/cancel", include_in_schema=False)
    async def cancel_submit(membership_id: int, request: Request, user: PageUser) -> Response:
        reason = str((await request.form()).get("reason") or "")
        return await page_act(request, user, membership_id, lambda session: cancel_membership(
            session, membership_id, actor=user, reason=reason, now=utc_now(), remote_addr=remote(request)),
            "cancelled", "already")

    @router.post("/staff/memberships/{membership_id}/renewal", include_in_schema=False)
    async def renewal_submit(membership_id: int, request: Request, user: PageUser) -> Response:
        opt_out = (await request.form()).get("opt_out") == "1"
        return await page_act(request, user, membership_id, lambda session: set_renewal_opt_out(
            session, membership_id, opt_out, actor=user, now=utc_now(), remote_addr=remote(request)),
            "opted_out" if opt_out else "opted_in", "unchanged")

    return router
