"""Pages that emailed links open: meeting sign-up, a participant's cancellation, unsubscribing.

Links are signed (``shared.links``) by notifications with ``REGLAB_SECRET_KEY``;
an altered, foreign or expired link gets a clear Swedish page and changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from services.registration.meetings.contacts import unsubscribe
from services.registration.meetings.forms import FormInvalid, validate_person
from services.registration.meetings.models import Contact, Meeting, MeetingParticipant
from services.registration.meetings.participants import (
    DEADLINE_PASSED,
    MEETING_CANCELLED,
    SignupOutcome,
    SignupRefused,
    cancel_participation,
    sign_up,
    waiting_position,
)
from services.registration.meetings.rules import registration_open
from services.registration.meetings.web import EXPIRED_FORM, MeetingsWeb, form_text, new_correlation_id
from services.registration.models import Network, Organisation
from shared.links import LinkInvalid, verify_link
from shared.web import csrf_valid

SIGNUP_ROUTE = "/moten/anmalan/{token}"
CANCEL_ROUTE = "/moten/avboka/{token}"
UNSUBSCRIBE_ROUTE = "/avregistrera/{token}"
NOT_FOUND = "Mötet finns inte."


def public_router(web: MeetingsWeb) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    secret = web.settings.secret_key

    def message(request: Request, title: str, text: str, status: int) -> Response:
        return web.render(
            request, "meetings/public_message.html", {"user": None, "title": title, "text": text}, status
        )

    def payload_id(token: str, purpose: str, key: str) -> int:
        payload = verify_link(secret, purpose, token, web.clock.now())
        value = payload.get(key)
        if not isinstance(value, int):
            raise LinkInvalid("Länken är ogiltig.")
        return value

    # --- Sign-up ---

    def load_signup(session: Session, meeting_id: int, contact_id: int) -> dict[str, Any] | None:
        meeting = session.get(Meeting, meeting_id)
        if meeting is None:
            return None
        contact = session.get(Contact, contact_id)
        organisation = session.get(Organisation, contact.organisation_id) if contact else None
        network = session.get(Network, meeting.network_id)
        return {
            "meeting": meeting,
            "network": network,
            "prefill": {
                "name": contact.name if contact else "",
                "email": contact.email if contact else "",
                "organisation": organisation.name if organisation else "",
                "dietary": "",
            },
        }

    async def signup_context(request: Request, token: str) -> dict[str, Any] | Response:
        try:
            meeting_id = payload_id(token, "meeting-signup", "m")
            contact_id = payload_id(token, "meeting-signup", "c")
        except LinkInvalid as invalid:
            return message(
                request, "Länken fungerar inte", f"{invalid} Be om en ny inbjudan från Reglab.", 400
            )
        found = await web.read(lambda session: load_signup(session, meeting_id, contact_id))
        if found is None:
            return message(request, "Länken fungerar inte", NOT_FOUND, 404)
        meeting: Meeting = found["meeting"]
        if meeting.status != "scheduled":
            reason = f" Skäl: {meeting.cancel_reason}" if meeting.cancel_reason else ""
            return message(request, meeting.title, MEETING_CANCELLED + reason, 410)
        if not registration_open(meeting.registration_deadline, web.clock.now()):
            return message(request, meeting.title, DEADLINE_PASSED, 410)
        return {**found, "contact_id": contact_id, "token": token}

    @router.get(SIGNUP_ROUTE)
    async def signup_page(request: Request, token: str) -> Response:
        context = await signup_context(request, token)
        if isinstance(context, Response):
            return context
        return web.render(
            request,
            "meetings/public_signup.html",
            {"user": None, **context, "values": context["prefill"], "errors": {}, "alert": ""},
        )

    @router.post(SIGNUP_ROUTE)
    async def signup_submit(request: Request, token: str) -> Response:
        context = await signup_context(request, token)
        if isinstance(context, Response):
            return context
        form = await request.form()
        values = {key: form_text(form, key) for key in ("name", "email", "organisation", "dietary")}

        def again(errors: dict[str, str], alert: str, status: int) -> Response:
            return web.render(
                request,
                "meetings/public_signup.html",
                {"user": None, **context, "values": values, "errors": errors, "alert": alert},
                status,
            )

        if not csrf_valid(request, form_text(form, "csrf_token")):
            return again({}, EXPIRED_FORM, 400)
        try:
            person = validate_person(values)
        except FormInvalid as invalid:
            return again(invalid.errors, "Rätta de markerade fälten och skicka igen.", 422)
        meeting: Meeting = context["meeting"]
        try:

            def work(session: Session) -> tuple[SignupOutcome, int | None]:
                outcome = sign_up(
                    session,
                    meeting.id or 0,
                    person,
                    contact_id=context["contact_id"],
                    now=web.clock.now(),
                    correlation_id=new_correlation_id(),
                )
                return outcome, waiting_position(session, outcome.participant)

            outcome, position = await web.write(work)
        except SignupRefused as refused:
            return message(request, meeting.title, str(refused), 410)
        return web.render(
            request,
            "meetings/public_signed_up.html",
            {
                "user": None,
                "meeting": meeting,
                "network": context["network"],
                "participant": outcome.participant,
                "created": outcome.created,
                "position": position,
            },
        )

    # --- A participant cancels ---

    async def cancel_context(request: Request, token: str) -> dict[str, Any] | Response:
        try:
            participant_id = payload_id(token, "meeting-cancel", "p")
        except LinkInvalid as invalid:
            return message(request, "Länken fungerar inte", str(invalid), 400)

        def work(session: Session) -> dict[str, Any] | None:
            participant = session.get(MeetingParticipant, participant_id)
            if participant is None:
                return None
            meeting = session.get(Meeting, participant.meeting_id)
            return {
                "participant": participant,
                "meeting": meeting,
                "network": session.get(Network, meeting.network_id) if meeting else None,
            }

        found = await web.read(work)
        if found is None:
            return message(request, "Länken fungerar inte", "Anmälan finns inte.", 404)
        return found

    @router.get(CANCEL_ROUTE)
    async def cancel_page(request: Request, token: str) -> Response:
        context = await cancel_context(request, token)
        if isinstance(context, Response):
            return context
        return web.render(request, "meetings/public_cancel.html", {"user": None, **context, "alert": ""})

    @router.post(CANCEL_ROUTE)
    async def cancel_submit(request: Request, token: str) -> Response:
        context = await cancel_context(request, token)
        if isinstance(context, Response):
            return context
        form = await request.form()
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return web.render(
                request, "meetings/public_cancel.html", {"user": None, **context, "alert": EXPIRED_FORM}, 400
            )
        participant: MeetingParticipant = context["participant"]
        try:
            await web.write(
                lambda session: cancel_participation(
                    session, participant.id or 0, now=web.clock.now(), correlation_id=new_correlation_id()
                )
            )
        except SignupRefused as refused:
            return message(request, context["meeting"].title, str(refused), 410)
        return message(
            request,
            "Avbokad",
            f"Din plats på ”{context['meeting'].title}” är avbokad. Välkommen tillbaka en annan gång!",
            200,
        )

    # --- Unsubscribe from invitations ---

    async def contact_of(request: Request, token: str) -> Contact | Response:
        try:
            contact_id = payload_id(token, "unsubscribe", "c")
        except LinkInvalid as invalid:
            return message(request, "Länken fungerar inte", str(invalid), 400)
        contact = await web.read(lambda session: session.get(Contact, contact_id))
        if contact is None:
            return message(request, "Länken fungerar inte", "Kontakten finns inte.", 404)
        return contact

    @router.get(UNSUBSCRIBE_ROUTE)
    async def unsubscribe_page(request: Request, token: str) -> Response:
        contact = await contact_of(request, token)
        if isinstance(contact, Response):
            return contact
        return web.render(
            request, "meetings/public_unsubscribe.html", {"user": None, "contact": contact, "alert": ""}
        )

    @router.post(UNSUBSCRIBE_ROUTE)
    async def unsubscribe_submit(request: Request, token: str) -> Response:
        contact = await contact_of(request, token)
        if isinstance(contact, Response):
            return contact
        form = await request.form()
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return web.render(
                request,
                "meetings/public_unsubscribe.html",
                {"user": None, "contact": contact, "alert": EXPIRED_FORM},
                400,
            )
        await web.write(
            lambda session: unsubscribe(
                session, contact.id or 0, now=web.clock.now(), correlation_id=new_correlation_id()
            )
        )
        return message(
            request,
            "Avregistrerad",
            f"{contact.email} får inte fler inbjudningar till nätverkets möten.",
            200,
        )

    return router
