"""Staff pages (role staff): the dashboard (``/staff``) and the year's network weeks.

Setting the weeks is recorded with ``shared.audit.record_act`` and listed on the page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from services.registration.meetings.core import weeks_of
from services.registration.meetings.dashboard import dashboard, default_dashboard_year
from services.registration.meetings.rules import WeeksInvalid, local_date, parse_weeks, week_span
from services.registration.meetings.schedule import set_network_weeks
from services.registration.meetings.web import (
    EXPIRED_FORM,
    MeetingsWeb,
    form_text,
    new_correlation_id,
    remote_addr,
)
from shared.audit import entries_for
from shared.digits import is_digits
from shared.policy import FeePolicy
from shared.web import csrf_valid, staff_page


def year_of(text: str, fallback: int) -> int:
    """A year from a query or form field, or ``fallback`` when it is not a plausible year."""
    return int(text) if is_digits(text) and 2000 <= int(text) <= 2100 else fallback


def overview_router(web: MeetingsWeb, policies: dict[int, FeePolicy]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    staff = Depends(staff_page(web.settings, "staff"))

    # --- Dashboard ---

    @router.get("/staff")
    async def staff_dashboard(request: Request, year: str = "", user: str = staff) -> Response:
        now = web.clock.now()

        def work(session: Session) -> Any:
            return dashboard(session, year_of(year, default_dashboard_year(session, now)), policies)

        board = await web.read(work)
        return web.render(request, "meetings/dashboard.html", {"user": user, "board": board})

    # --- Network weeks ---

    async def weeks_page(
        request: Request,
        user: str,
        year: int,
        *,
        text: str | None = None,
        error: str = "",
        saved: bool = False,
        status: int = 200,
    ) -> Response:
        def work(session: Session) -> Any:
            return weeks_of(session, year), entries_for(session, f"network_weeks:{year}")

        weeks, audit = await web.read(work)
        spans = [(w, *week_span(year, w)) for w in weeks]
        return web.render(
            request,
            "meetings/weeks.html",
            {
                "user": user,
                "year": year,
                "weeks": spans,
                "error": error,
                "saved": saved,
                "audit": audit,
                "text": text if text is not None else ", ".join(map(str, weeks)),
            },
            status,
        )

    @router.get("/staff/natverksveckor")
    async def weeks_form(request: Request, year: str = "", user: str = staff) -> Response:
        return await weeks_page(
            request,
            user,
            year_of(year, local_date(web.clock.now()).year),
            saved=request.query_params.get("sparat") == "1",
        )

    @router.post("/staff/natverksveckor")
    async def weeks_submit(request: Request, user: str = staff) -> Response:
        form = await request.form()
        year = year_of(form_text(form, "year"), 0)
        text = form_text(form, "weeks")
        if not year:
            return await weeks_page(
                request,
                user,
                local_date(web.clock.now()).year,
                text=text,
                error="Ange ett år, t.ex. 2018.",
                status=422,
            )
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await weeks_page(request, user, year, text=text, error=EXPIRED_FORM, status=400)
        try:
            weeks = parse_weeks(year, text)
        except WeeksInvalid as invalid:
            return await weeks_page(request, user, year, text=text, error=str(invalid), status=422)
        await web.write(
            lambda session: set_network_weeks(
                session,
                year,
                weeks,
                actor=user,
                remote_addr=remote_addr(request),
                now=web.clock.now(),
                correlation_id=new_correlation_id(),
            )
        )
        return RedirectResponse(f"/staff/natverksveckor?year={year}&sparat=1", status_code=303)

    return router
