"""Staff pages (role staff) for meetings: list, schedule, change, cancel, participants and their CSV.

Every act is recorded with ``shared.audit.record_act`` in its transaction and
listed on the page it concerns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from services.registration.meetings.core import (
    MeetingClosed,
    MeetingNotFound,
    active_networks,
    meetings_of_year,
    registered_count,
    weeks_of,
)
from services.registration.meetings.dashboard import default_dashboard_year, years_with_data
from services.registration.meetings.forms import FormInvalid, MeetingDraft, validate_meeting
from services.registration.meetings.models import Meeting
from services.registration.meetings.participants import participants_of
from services.registration.meetings.rules import STOCKHOLM, local_date
from services.registration.meetings.schedule import (
    cancel_meeting,
    schedule_meeting,
    update_meeting,
)
from services.registration.meetings.staff_overview import year_of
from services.registration.meetings.web import (
    EXPIRED_FORM,
    MeetingsWeb,
    form_text,
    new_correlation_id,
    remote_addr,
)
from services.registration.models import Network
from shared.audit import entries_for
from shared.csv_export import write_csv
from shared.web import csrf_valid, staff_page

MEETING_FIELDS = (
    "network",
    "title",
    "date",
    "start_time",
    "end_time",
    "venue",
    "address",
    "capacity",
    "agenda",
    "registration_deadline",
    "cost_venue",
    "cost_food",
    "cost_speakers",
    "outside_weeks_reason",
    "extra_meeting_reason",
)
CLOSED = "Mötet är inställt och kan inte ändras."


def meeting_values(meeting: Meeting, network_code: str) -> dict[str, str]:
    start = meeting.starts_at.astimezone(STOCKHOLM)
    return {
        "network": network_code,
        "title": meeting.title,
        "date": start.date().isoformat(),
        "start_time": start.strftime("%H:%M"),
        "end_time": meeting.ends_at.astimezone(STOCKHOLM).strftime("%H:%M"),
        "venue": meeting.venue,
        "address": meeting.address,
        "capacity": str(meeting.capacity),
        "agenda": meeting.agenda,
        "registration_deadline": meeting.registration_deadline.isoformat(),
        "cost_venue": str(meeting.cost_venue),
        "cost_food": str(meeting.cost_food),
        "cost_speakers": str(meeting.cost_speakers),
        "outside_weeks_reason": meeting.outside_weeks_reason,
        "extra_meeting_reason": meeting.extra_meeting_reason,
    }


def meetings_router(web: MeetingsWeb) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    staff = Depends(staff_page(web.settings, "staff"))

    # --- Meetings ---

    @router.get("/staff/moten")
    async def meetings_list(request: Request, year: str = "", user: str = staff) -> Response:
        def work(session: Session) -> Any:
            chosen = year_of(year, default_dashboard_year(session, web.clock.now()))
            rows = meetings_of_year(session, chosen)
            counts = {m.id: registered_count(session, m.id or 0) for m, _n in rows}
            return chosen, rows, counts, years_with_data(session)

        chosen, rows, counts, years = await web.read(work)
        return web.render(
            request,
            "meetings/meetings.html",
            {"user": user, "year": chosen, "rows": rows, "registered": counts, "years": years},
        )

    async def meeting_form(
        request: Request,
        user: str,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 200,
        alert: str = "",
    ) -> Response:
        networks = await web.read(active_networks)
        return web.render(
            request,
            "meetings/meeting_new.html",
            {"user": user, "values": values, "errors": errors, "alert": alert, "networks": networks},
            status,
        )

    @router.get("/staff/moten/nytt")
    async def new_meeting(request: Request, user: str = staff) -> Response:
        return await meeting_form(
            request, user, {"capacity": "40", "start_time": "10:00", "end_time": "16:00"}, {}
        )

    def parse(values: dict[str, str], networks: list[Network], check_past: bool = True) -> MeetingDraft:
        return validate_meeting(
            values, networks={n.code for n in networks}, now=web.clock.now(), check_past=check_past
        )

    @router.post("/staff/moten/nytt")
    async def create_meeting(request: Request, user: str = staff) -> Response:
        form = await request.form()
        values = {key: form_text(form, key) for key in MEETING_FIELDS}
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await meeting_form(request, user, values, {}, 400, EXPIRED_FORM)
        networks = await web.read(active_networks)
        try:
            draft = parse(values, networks)
            meeting = await web.write(
                lambda session: schedule_meeting(
                    session,
                    draft,
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                    correlation_id=new_correlation_id(),
                )
            )
        except FormInvalid as invalid:
            return await meeting_form(
                request, user, values, invalid.errors, 422, "Mötet innehåller fel. Rätta de markerade fälten."
            )
        return RedirectResponse(f"/staff/moten/{meeting.id}?sparat=1", status_code=303)

    async def meeting_page(
        request: Request,
        user: str,
        meeting_id: int,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        alert: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        def work(session: Session) -> Any:
            meeting = session.get(Meeting, meeting_id)
            if meeting is None:
                return None
            network = session.get(Network, meeting.network_id)
            assert network is not None
            return (
                meeting,
                network,
                participants_of(session, meeting_id),
                entries_for(session, f"meeting:{meeting_id}"),
                weeks_of(session, meeting.year),
            )

        found = await web.read(work)
        if found is None:
            raise HTTPException(404, "Mötet finns inte.")
        meeting, network, participants, audit, weeks = found
        return web.render(
            request,
            "meetings/meeting.html",
            {
                "user": user,
                "meeting": meeting,
                "network": network,
                "audit": audit,
                "weeks": weeks,
                "registered": [p for p in participants if p.status == "registered"],
                "waiting": [p for p in participants if p.status == "waiting"],
                "cancelled": [p for p in participants if p.status == "cancelled"],
                "values": values or meeting_values(meeting, network.code),
                "errors": errors or {},
                "alert": alert,
                "notice": notice,
                "networks": [network],
            },
            status,
        )

    @router.get("/staff/moten/{meeting_id}")
    async def meeting_detail(request: Request, meeting_id: int, user: str = staff) -> Response:
        saved = request.query_params.get("sparat") == "1"
        return await meeting_page(request, user, meeting_id, notice="Sparat." if saved else "")

    @router.post("/staff/moten/{meeting_id}")
    async def meeting_change(request: Request, meeting_id: int, user: str = staff) -> Response:
        form = await request.form()
        values = {key: form_text(form, key) for key in MEETING_FIELDS}
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await meeting_page(
                request, user, meeting_id, values=values, alert=EXPIRED_FORM, status=400
            )
        networks = await web.read(active_networks)
        try:
            draft = parse(values, networks)
            await web.write(
                lambda session: update_meeting(
                    session,
                    meeting_id,
                    draft,
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                    correlation_id=new_correlation_id(),
                )
            )
        except FormInvalid as invalid:
            return await meeting_page(
                request,
                user,
                meeting_id,
                values=values,
                errors=invalid.errors,
                alert="Ändringen innehåller fel. Rätta de markerade fälten.",
                status=422,
            )
        except MeetingClosed:
            return await meeting_page(request, user, meeting_id, alert=CLOSED, status=409)
        except MeetingNotFound as missing:
            raise HTTPException(404, "Mötet finns inte.") from missing
        return RedirectResponse(f"/staff/moten/{meeting_id}?sparat=1", status_code=303)

    @router.post("/staff/moten/{meeting_id}/stall-in")
    async def meeting_cancel(request: Request, meeting_id: int, user: str = staff) -> Response:
        form = await request.form()
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await meeting_page(request, user, meeting_id, alert=EXPIRED_FORM, status=400)
        try:
            await web.write(
                lambda session: cancel_meeting(
                    session,
                    meeting_id,
                    form_text(form, "reason"),
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                    correlation_id=new_correlation_id(),
                )
            )
        except FormInvalid as invalid:
            return await meeting_page(
                request, user, meeting_id, errors=invalid.errors, alert=invalid.errors["reason"], status=422
            )
        except MeetingClosed:
            return await meeting_page(request, user, meeting_id, alert=CLOSED, status=409)
        except MeetingNotFound as missing:
            raise HTTPException(404, "Mötet finns inte.") from missing
        return RedirectResponse(f"/staff/moten/{meeting_id}?sparat=1", status_code=303)

    @router.get("/staff/moten/{meeting_id}/deltagare.csv")
    async def participants_csv(meeting_id: int, user: str = staff) -> Response:
        def work(session: Session) -> Any:
            meeting = session.get(Meeting, meeting_id)
            return None if meeting is None else (meeting, participants_of(session, meeting_id))

        found = await web.read(work)
        if found is None:
            raise HTTPException(404, "Mötet finns inte.")
        meeting, participants = found
        status_names = {"registered": "Anmäld", "waiting": "Väntelista", "cancelled": "Avbokad"}
        waiting_place = {p.id: i for i, p in enumerate((p for p in participants if p.status == "waiting"), 1)}
        body = write_csv(
            ["Status", "Plats på väntelistan", "Namn", "E-post", "Organisation", "Kost", "Anmäld"],
            [
                [
                    status_names.get(p.status, p.status),
                    waiting_place.get(p.id, ""),
                    p.name,
                    p.email,
                    p.organisation_name,
                    p.dietary,
                    p.created_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M"),
                ]
                for p in participants
            ],
        )
        filename = f"deltagare-mote-{meeting.id}-{local_date(meeting.starts_at).isoformat()}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
