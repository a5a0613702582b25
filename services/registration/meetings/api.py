"""JSON API for staff scripts and tests (bearer token or session, role staff).

``GET/POST /api/v1/meetings`` and ``GET /api/v1/meetings/{id}/participants``.
A meeting is posted as ``{"network", "title", "starts_at", "ends_at", "venue",
"address", "agenda", "capacity", "registration_deadline", "costs": {"venue",
"food", "speakers"}, "outside_weeks_reason"?, "extra_meeting_reason"?}``;
times are ISO 8601 (without an offset they are Stockholm time).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel
from sqlmodel import Session, select

from services.registration.catalogue import ACTIVE
from services.registration.meetings.core import meetings_of_year, registered_count
from services.registration.meetings.forms import FormInvalid, meeting_form_values, validate_meeting
from services.registration.meetings.models import Meeting
from services.registration.meetings.participants import participants_of
from services.registration.meetings.schedule import schedule_meeting
from services.registration.meetings.web import MeetingsWeb, new_correlation_id, remote_addr
from services.registration.models import Network
from shared.web import staff_api

API_FIELDS = {
    "date": "starts_at",
    "start_time": "starts_at",
    "end_time": "ends_at",
    "cost_venue": "costs.venue",
    "cost_food": "costs.food",
    "cost_speakers": "costs.speakers",
}


class CostsOut(BaseModel):
    venue: Decimal
    food: Decimal
    speakers: Decimal
    total: Decimal


class MeetingOut(BaseModel):
    id: int
    network: str
    network_name: str
    year: int
    title: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    venue: str
    address: str
    agenda: str
    capacity: int
    registration_deadline: str
    costs: CostsOut
    outside_weeks_reason: str
    extra_meeting_reason: str
    status: str
    cancel_reason: str
    sequence: int
    registered: int


class ParticipantOut(BaseModel):
    id: int
    name: str
    email: str
    organisation: str
    dietary: str
    status: str
    contact_id: int | None
    waiting_position: int | None


def meeting_out(meeting: Meeting, network: Network, registered: int) -> MeetingOut:
    return MeetingOut(
        id=meeting.id or 0,
        network=network.code,
        network_name=network.name,
        year=meeting.year,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        venue=meeting.venue,
        address=meeting.address,
        agenda=meeting.agenda,
        capacity=meeting.capacity,
        registration_deadline=meeting.registration_deadline.isoformat(),
        costs=CostsOut(
            venue=meeting.cost_venue,
            food=meeting.cost_food,
            speakers=meeting.cost_speakers,
            total=meeting.cost_venue + meeting.cost_food + meeting.cost_speakers,
        ),
        outside_weeks_reason=meeting.outside_weeks_reason,
        extra_meeting_reason=meeting.extra_meeting_reason,
        status=meeting.status,
        cancel_reason=meeting.cancel_reason,
        sequence=meeting.sequence,
        registered=registered,
    )


def _error(status: int, detail: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or {}}, status_code=status)


def meetings_api_router(web: MeetingsWeb) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["meetings"])
    staff = Depends(staff_api(web.settings, "staff"))

    @router.get("/meetings", response_model=list[MeetingOut])
    async def list_meetings(year: int | None = None, user: str = staff) -> Any:
        """Meetings (all years, or one), by start time."""

        def work(session: Session) -> list[MeetingOut]:
            return [
                meeting_out(m, n, registered_count(session, m.id or 0))
                for m, n in meetings_of_year(session, year)
            ]

        return await web.read(work)

    @router.post("/meetings", status_code=201, response_model=MeetingOut)
    async def create_meeting(request: Request, user: str = staff) -> Any:
        """Schedule a meeting; publishes ``meeting.scheduled`` with the invitees."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Ogiltig JSON.")
        if not isinstance(body, dict):
            return _error(422, "Begäran ska vara ett JSON-objekt.")

        def networks(session: Session) -> set[str]:
            return {n.code for n in session.exec(select(Network)).all() if n.status == ACTIVE}

        try:
            draft = validate_meeting(
                meeting_form_values(body), networks=await web.read(networks), now=web.clock.now()
            )

            def work(session: Session) -> MeetingOut:
                meeting = schedule_meeting(
                    session,
                    draft,
                    actor=user,
                    remote_addr=remote_addr(request),
                    now=web.clock.now(),
                    correlation_id=new_correlation_id(),
                )
                network = session.get(Network, meeting.network_id)
                assert network is not None
                return meeting_out(meeting, network, 0)

            return await web.write(work)
        except FormInvalid as invalid:
            errors = {API_FIELDS.get(key, key): message for key, message in invalid.errors.items()}
            return _error(422, "Mötet innehåller fel; se meddelandet för varje fält.", errors)

    @router.get("/meetings/{meeting_id}/participants", response_model=list[ParticipantOut])
    async def participants(meeting_id: int, user: str = staff) -> Any:
        """Participants: registered, then the waiting list in its order, then cancelled."""

        def work(session: Session) -> list[ParticipantOut] | None:
            if session.get(Meeting, meeting_id) is None:
                return None
            rows = participants_of(session, meeting_id)
            waiting = [p.id for p in rows if p.status == "waiting"]
            return [
                ParticipantOut(
                    id=p.id or 0,
                    name=p.name,
                    email=p.email,
                    organisation=p.organisation_name,
                    dietary=p.dietary,
                    status=p.status,
                    contact_id=p.contact_id,
                    waiting_position=waiting.index(p.id) + 1 if p.id in waiting else None,
                )
                for p in rows
            ]

        found = await web.read(work)
        if found is None:
            return _error(404, "Mötet finns inte.")
        return found

    return router
