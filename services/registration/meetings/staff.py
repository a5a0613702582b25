"""Staff pages (role staff): dashboard, network weeks, meetings with participants and CSV, contacts.

Every act is recorded with ``shared.audit.record_act`` in its transaction and
listed on the page it concerns.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from services.registration.catalogue import ACTIVE
from services.registration.meetings.contacts import add_contact, contacts_of, remove_contact, sync_contacts
from services.registration.meetings.dashboard import dashboard, default_dashboard_year, years_with_data
from services.registration.meetings.forms import FormInvalid, MeetingDraft, validate_meeting, validate_person
from services.registration.meetings.models import Contact, Meeting
from services.registration.meetings.participants import participants_of
from services.registration.meetings.rules import STOCKHOLM, WeeksInvalid, local_date, parse_weeks, week_span
from services.registration.meetings.schedule import (
    MeetingClosed,
    MeetingNotFound,
    cancel_meeting,
    meetings_of_year,
    schedule_meeting,
    set_network_weeks,
    update_meeting,
    weeks_of,
)
from services.registration.meetings.web import (
    EXPIRED_FORM,
    MeetingsWeb,
    form_text,
    new_correlation_id,
    remote_addr,
)
from services.registration.models import Membership, Network, Organisation
from shared.audit import entries_for
from shared.csv_export import write_csv
from shared.policy import FeePolicy
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


def staff_router(web: MeetingsWeb, policies: dict[int, FeePolicy]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    staff = Depends(staff_page(web.settings, "staff"))

    def active_networks(session: Session) -> list[Network]:
        return [
            n
            for n in session.exec(select(Network).order_by(col(Network.position))).all()
            if n.status == ACTIVE
        ]

    def year_of(text: str, fallback: int) -> int:
        return int(text) if text.isascii() and text.isdigit() and 2000 <= int(text) <= 2100 else fallback

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

    # --- Meetings ---

    @router.get("/staff/moten")
    async def meetings_list(request: Request, year: str = "", user: str = staff) -> Response:
        def work(session: Session) -> Any:
            chosen = year_of(year, default_dashboard_year(session, web.clock.now()))
            return chosen, meetings_of_year(session, chosen), years_with_data(session)

        chosen, rows, years = await web.read(work)
        return web.render(
            request, "meetings/meetings.html", {"user": user, "year": chosen, "rows": rows, "years": years}
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

    # --- Organisations and their contacts ---

    @router.get("/staff/organisationer")
    async def organisations(request: Request, user: str = staff) -> Response:
        def work(session: Session) -> Any:
            sync_contacts(session, web.clock.now())
            return session.exec(select(Organisation).order_by(col(Organisation.name))).all()

        rows = await web.write(work)
        return web.render(request, "meetings/organisations.html", {"user": user, "rows": rows})

    async def organisation_page(
        request: Request,
        user: str,
        organisation_id: int,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        alert: str = "",
        notice: str = "",
        status: int = 200,
    ) -> Response:
        def work(session: Session) -> Any:
            sync_contacts(session, web.clock.now())
            organisation = session.get(Organisation, organisation_id)
            if organisation is None:
                return None
            member_of = session.exec(
                select(Network.code)
                .join(Membership, col(Membership.network_id) == Network.id)
                .where(Membership.organisation_id == organisation_id)
                .distinct()
            ).all()
            networks = [n for n in active_networks(session) if n.code in set(member_of)] or active_networks(
                session
            )
            return (
                organisation,
                contacts_of(session, organisation_id),
                networks,
                entries_for(session, f"organisation:{organisation_id}"),
            )

        found = await web.write(work)
        if found is None:
            raise HTTPException(404, "Organisationen finns inte.")
        organisation, contacts, networks, audit = found
        return web.render(
            request,
            "meetings/organisation.html",
            {
                "user": user,
                "organisation": organisation,
                "contacts": contacts,
                "networks": networks,
                "audit": audit,
                "values": values or {},
                "errors": errors or {},
                "alert": alert,
                "notice": notice,
            },
            status,
        )

    @router.get("/staff/organisationer/{organisation_id}")
    async def organisation_detail(request: Request, organisation_id: int, user: str = staff) -> Response:
        notice = {"tillagd": "Kontakten är tillagd.", "borttagen": "Kontakten är borttagen."}.get(
            request.query_params.get("sparat", ""), ""
        )
        return await organisation_page(request, user, organisation_id, notice=notice)

    @router.post("/staff/organisationer/{organisation_id}/kontakter")
    async def contact_add(request: Request, organisation_id: int, user: str = staff) -> Response:
        form = await request.form()
        values = {key: form_text(form, key) for key in ("network", "name", "email")}
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await organisation_page(
                request, user, organisation_id, values=values, alert=EXPIRED_FORM, status=400
            )
        try:
            person = validate_person(values, need_organisation=False)
            await web.write(
                lambda session: add_contact(
                    session,
                    organisation_id=organisation_id,
                    network_code=values["network"],
                    person=person,
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                )
            )
        except FormInvalid as invalid:
            return await organisation_page(
                request,
                user,
                organisation_id,
                values=values,
                errors=invalid.errors,
                alert="Kontakten kunde inte läggas till.",
                status=422,
            )
        except LookupError as missing:
            raise HTTPException(404, "Organisationen finns inte.") from missing
        return RedirectResponse(f"/staff/organisationer/{organisation_id}?sparat=tillagd", status_code=303)

    @router.post("/staff/kontakter/{contact_id}/ta-bort")
    async def contact_remove(request: Request, contact_id: int, user: str = staff) -> Response:
        form = await request.form()
        contact = await web.read(lambda session: session.get(Contact, contact_id))
        if contact is None:
            raise HTTPException(404, "Kontakten finns inte.")
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return await organisation_page(
                request, user, contact.organisation_id, alert=EXPIRED_FORM, status=400
            )
        await web.write(
            lambda session: remove_contact(
                session, contact_id, actor=user, remote_addr=remote_addr(request), now=web.clock.now()
            )
        )
        return RedirectResponse(
            f"/staff/organisationer/{contact.organisation_id}?sparat=borttagen", status_code=303
        )

    return router
