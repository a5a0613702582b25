"""Pure rules for meeting emails: the signed links they carry, and which email each meeting event calls for.

No I/O and no clock: an email's links expire at times derived from the
meeting (or from the event's own moment), so the same event always renders
the same message. The links are the ones agreed with registration, which
serves the pages and verifies the tokens (shared/links.py):

- sign-up ``/moten/anmalan/{token}``: purpose "meeting-signup", {"m", "c"},
  valid to the end (23:59:59 Stockholm) of the registration deadline day;
- own cancellation ``/moten/avboka/{token}``: purpose "meeting-cancel", {"p"},
  valid until the meeting starts;
- unsubscribe ``/avregistrera/{token}``: purpose "unsubscribe", {"c"}, valid
  365 days from sending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.notifications import domain, ics, mime, timefmt
from services.notifications.domain import EmailKind, OutgoingEmail
from shared.events import (
    Invitee,
    MeetingCancelled,
    MeetingInfo,
    MeetingScheduled,
    MeetingUpdated,
    Participant,
)
from shared.links import sign_link

UNSUBSCRIBE_DAYS = 365


@dataclass(frozen=True)
class Links:
    """Builds the emailed links; ``base_url`` is REGISTRATION_PUBLIC_URL, ``secret_key`` REGLAB_SECRET_KEY."""

    secret_key: str
    base_url: str

    def _url(self, path: str, token: str) -> str:
        return f"{self.base_url.rstrip('/')}{path}{token}"

    def signup(self, meeting: MeetingInfo, contact_id: int) -> str:
        token = sign_link(
            self.secret_key,
            "meeting-signup",
            {"m": meeting.meeting_id, "c": contact_id},
            timefmt.end_of_day(meeting.registration_deadline),
        )
        return self._url("/moten/anmalan/", token)

    def cancel(self, meeting: MeetingInfo, participant_id: int) -> str:
        token = sign_link(self.secret_key, "meeting-cancel", {"p": participant_id}, meeting.starts_at)
        return self._url("/moten/avboka/", token)

    def unsubscribe(self, contact_id: int, sent_at: datetime) -> str:
        token = sign_link(
            self.secret_key, "unsubscribe", {"c": contact_id}, sent_at + timedelta(days=UNSUBSCRIBE_DAYS)
        )
        return self._url("/avregistrera/", token)


@dataclass(frozen=True)
class Recipient:
    """Someone a meeting email goes to: an invitee (contact) and/or a participant."""

    name: str
    email: str
    organisation: str = ""
    contact_id: int | None = None
    participant_id: int | None = None
    # A participant's place: "registered", "waiting" or "" (only invited).
    status: str = ""


def invitee_recipient(invitee: Invitee) -> Recipient:
    return Recipient(
        name=invitee.name,
        email=invitee.email,
        organisation=invitee.organisation_name,
        contact_id=invitee.contact_id,
    )


def participant_recipient(participant: Participant, status: str) -> Recipient:
    return Recipient(
        name=participant.name,
        email=participant.email,
        organisation=participant.organisation_name,
        contact_id=participant.contact_id,
        participant_id=participant.participant_id,
        status=status,
    )


def meeting_context(meeting: MeetingInfo) -> dict[str, Any]:
    """What every meeting template shows about the meeting itself."""
    return {
        "meeting": meeting,
        "title": domain.one_line(meeting.title, limit=300),
        "network": meeting.network_name,
        "starts": timefmt.swedish_datetime(meeting.starts_at),
        "ends": timefmt.clock_time(meeting.ends_at),
        "place": ", ".join(part for part in (meeting.venue.strip(), meeting.address.strip()) if part),
        "deadline": timefmt.swedish_date(meeting.registration_deadline),
    }


def _calendar(
    meeting: MeetingInfo, recipient: Recipient, method: ics.Method, *, organizer: str, stamp: datetime
) -> tuple[mime.Part, ...]:
    attendee = mime.parse_mailbox(recipient.email, domain.one_line(recipient.name))
    content = ics.meeting_calendar(
        meeting,
        method=method,
        organizer=organizer,
        attendee=attendee,
        stamp=stamp,
        description=meeting.agenda,
    )
    return (ics.calendar_part(content, method),)


def _email(
    kind: EmailKind,
    template: str,
    subject: str,
    recipient: Recipient,
    context: dict[str, Any],
    attachments: tuple[mime.Part, ...] = (),
) -> OutgoingEmail:
    return OutgoingEmail(
        kind=kind,
        to_address=recipient.email,
        to_name=recipient.name,
        subject=subject,
        text=domain.render_template(template, context),
        attachments=attachments,
    )


def _one_per_address(
    build: Callable[[Recipient], OutgoingEmail], recipients: Iterable[Recipient]
) -> list[OutgoingEmail]:
    """One email per distinct address (a participant who is also an invitee hears once)."""
    emails: list[OutgoingEmail] = []
    seen: set[str] = set()
    for recipient in recipients:
        key = domain.recipient_key(recipient.email)
        if key in seen:
            continue
        seen.add(key)
        emails.append(build(recipient))
    return emails


def _attachment_or_none(
    meeting: MeetingInfo, recipient: Recipient, method: ics.Method, *, organizer: str, stamp: datetime
) -> tuple[mime.Part, ...]:
    # A recipient whose address is no address gets no calendar: render() then records the
    # email as failed, with the reason, for staff to see.
    try:
        return _calendar(meeting, recipient, method, organizer=organizer, stamp=stamp)
    except ValueError:
        return ()


def invitation(
    meeting: MeetingInfo,
    recipient: Recipient,
    *,
    links: Links,
    organizer: str,
    sent_at: datetime,
    reminder: bool = False,
) -> OutgoingEmail:
    """An invitation (or the reminder of one) with the personal sign-up and unsubscribe links and the .ics."""
    if recipient.contact_id is None:
        raise ValueError("an invitation goes to a contact")
    context = {
        **meeting_context(meeting),
        "name": domain.one_line(recipient.name),
        "organisation": recipient.organisation,
        "reminder": reminder,
        "signup_url": links.signup(meeting, recipient.contact_id),
        "unsubscribe_url": links.unsubscribe(recipient.contact_id, sent_at),
    }
    title = domain.one_line(meeting.title, limit=200)
    if reminder:
        return _email(
            EmailKind.invitation_reminder,
            "invitation_reminder.txt",
            f"Påminnelse: sista anmälningsdag {timefmt.swedish_date(meeting.registration_deadline)}"
            f" – {title}",
            recipient,
            context,
        )
    return _email(
        EmailKind.meeting_invitation,
        "meeting_invitation.txt",
        f"Inbjudan: {title} ({meeting.network_name})",
        recipient,
        context,
        _attachment_or_none(meeting, recipient, ics.Method.request, organizer=organizer, stamp=sent_at),
    )


def invitation_emails(
    event: MeetingScheduled, *, links: Links, organizer: str, unsubscribed: frozenset[int]
) -> list[OutgoingEmail]:
    """An invitation to every invitee who has not unsubscribed."""
    return invitations(
        event.meeting,
        event.invitees,
        links=links,
        organizer=organizer,
        unsubscribed=unsubscribed,
        sent_at=event.occurred_at,
    )


def invitations(
    meeting: MeetingInfo,
    invitees: Iterable[Invitee],
    *,
    links: Links,
    organizer: str,
    unsubscribed: frozenset[int],
    sent_at: datetime,
) -> list[OutgoingEmail]:
    """An invitation to each of ``invitees`` who has not unsubscribed, one per address."""
    recipients = [invitee_recipient(i) for i in invitees if i.contact_id not in unsubscribed]
    return _one_per_address(
        lambda r: invitation(meeting, r, links=links, organizer=organizer, sent_at=sent_at), recipients
    )


def _personal_links(
    meeting: MeetingInfo, recipient: Recipient, links: Links, sent_at: datetime
) -> dict[str, str]:
    """A participant gets their cancellation link; an invitee their sign-up and unsubscribe links."""
    result = {"cancel_url": "", "signup_url": "", "unsubscribe_url": ""}
    if recipient.participant_id is not None and recipient.status in ("registered", "waiting"):
        result["cancel_url"] = links.cancel(meeting, recipient.participant_id)
    elif recipient.contact_id is not None:
        result["signup_url"] = links.signup(meeting, recipient.contact_id)
        result["unsubscribe_url"] = links.unsubscribe(recipient.contact_id, sent_at)
    return result


def audience(
    invitees: Iterable[Invitee], participants: Iterable[Recipient], *, unsubscribed: frozenset[int]
) -> list[Recipient]:
    """Who hears of a change: participants with a place or on the waiting list first, then invitees.

    Participants hear of it even if they unsubscribed from invitations: it is their meeting.
    """
    active = [p for p in participants if p.status in ("registered", "waiting")]
    taken = {p.contact_id for p in active if p.contact_id is not None}
    invited = [
        invitee_recipient(i)
        for i in invitees
        if i.contact_id not in unsubscribed and i.contact_id not in taken
    ]
    return [*active, *invited]


def update_emails(
    event: MeetingUpdated, recipients: list[Recipient], *, links: Links, organizer: str
) -> list[OutgoingEmail]:
    """The changes (before → after) with the updated .ics (same UID, higher SEQUENCE).

    The waiting list gets no .ics: they have no place to put in their calendar yet.
    """
    meeting = event.meeting
    changes = [(label, before, after) for label, before, after in event.changes]
    title = domain.one_line(meeting.title, limit=200)

    def build(recipient: Recipient) -> OutgoingEmail:
        context = {
            **meeting_context(meeting),
            "name": domain.one_line(recipient.name),
            "changes": changes,
            "status": recipient.status,
            **_personal_links(meeting, recipient, links, event.occurred_at),
        }
        return _email(
            EmailKind.meeting_updated,
            "meeting_updated.txt",
            f"Ändrat möte: {title}",
            recipient,
            context,
            # The waiting list has no place yet: the change text, but no calendar entry to keep.
            ()
            if recipient.status == "waiting"
            else _attachment_or_none(
                meeting, recipient, ics.Method.request, organizer=organizer, stamp=event.occurred_at
            ),
        )

    return _one_per_address(build, recipients)


def cancellation_emails(
    event: MeetingCancelled, recipients: list[Recipient], *, organizer: str
) -> list[OutgoingEmail]:
    """The notice that the meeting is cancelled, with a METHOD:CANCEL .ics that removes it from calendars."""
    meeting = event.meeting
    title = domain.one_line(meeting.title, limit=200)

    def build(recipient: Recipient) -> OutgoingEmail:
        context = {
            **meeting_context(meeting),
            "name": domain.one_line(recipient.name),
            "reason": event.reason.strip(),
            "status": recipient.status,
        }
        return _email(
            EmailKind.meeting_cancelled,
            "meeting_cancelled.txt",
            f"Inställt möte: {title}",
            recipient,
            context,
            _attachment_or_none(
                meeting, recipient, ics.Method.cancel, organizer=organizer, stamp=event.occurred_at
            ),
        )

    return _one_per_address(build, recipients)


PARTICIPANT_EMAILS = {
    # kind, template, subject prefix, calendar
    "registered": (EmailKind.participant_registered, "participant_registered.txt", "Bekräftelse", True),
    "waiting": (EmailKind.participant_waiting, "participant_waiting.txt", "Väntelista", False),
    "promoted": (EmailKind.participant_promoted, "participant_promoted.txt", "Du har fått en plats", True),
    "cancelled": (EmailKind.participant_cancelled, "participant_cancelled.txt", "Avbokad", False),
}


def participant_email(
    what: str,
    meeting: MeetingInfo,
    participant: Participant,
    *,
    links: Links,
    organizer: str,
    sent_at: datetime,
) -> OutgoingEmail:
    """Confirmation, waiting-list notice, promotion or cancellation receipt; each with the cancel link.

    A cancellation receipt carries the sign-up link instead when the participant is
    a contact and registration is still open, so they can sign up again.
    """
    kind, template, prefix, with_calendar = PARTICIPANT_EMAILS[what]
    recipient = participant_recipient(participant, "cancelled" if what == "cancelled" else "registered")
    cancel_url = "" if what == "cancelled" else links.cancel(meeting, participant.participant_id)
    signup_url = (
        links.signup(meeting, participant.contact_id)
        if what == "cancelled" and participant.contact_id is not None
        else ""
    )
    context = {
        **meeting_context(meeting),
        "name": domain.one_line(participant.name),
        "organisation": participant.organisation_name,
        "cancel_url": cancel_url,
        "signup_url": signup_url,
    }
    attachments = (
        _attachment_or_none(meeting, recipient, ics.Method.request, organizer=organizer, stamp=sent_at)
        if with_calendar
        else ()
    )
    return _email(
        kind,
        template,
        f"{prefix}: {domain.one_line(meeting.title, limit=200)}",
        recipient,
        context,
        attachments,
    )
