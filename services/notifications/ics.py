"""Calendar attachments (.ics, RFC 5545 / iTIP) for meeting emails, built with the ``icalendar`` library.

One meeting is one calendar event: its UID (``meeting-<id>@reglab``) never
changes, and its SEQUENCE is the meeting's own (registration bumps it on every
change), so a calendar replaces the event on an update and removes it on a
cancellation (METHOD:CANCEL, STATUS:CANCELLED). Times are written in UTC.
Text that users typed (title, venue, agenda) goes through the library, which
escapes commas, semicolons, backslashes and line breaks, so it cannot end the
event or add properties of its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

import icalendar

from services.notifications import mime
from shared.events import MeetingInfo

PRODID = "-//Reglab//Reglab Natverk//SV"
UID_DOMAIN = "reglab"
# Parameter values (CN) cannot be escaped in iCalendar 2.0: drop what would end them.
_PARAM_UNSAFE = re.compile(r'["\x00-\x1f\x7f]+')


class Method(StrEnum):
    request = "REQUEST"
    cancel = "CANCEL"


def meeting_uid(meeting_id: int) -> str:
    return f"meeting-{meeting_id}@{UID_DOMAIN}"


def _param(text: str) -> str:
    return _PARAM_UNSAFE.sub(" ", text).strip()


def meeting_calendar(
    meeting: MeetingInfo,
    *,
    method: Method,
    organizer: str,
    attendee: mime.Mailbox,
    stamp: datetime,
    description: str = "",
) -> bytes:
    """The .ics for one recipient; ``stamp`` (DTSTAMP) is the moment of the event that caused it."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method.value)
    event = icalendar.Event()
    event.add("uid", meeting_uid(meeting.meeting_id))
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", meeting.starts_at.astimezone(UTC))
    event.add("dtend", meeting.ends_at.astimezone(UTC))
    event.add("summary", f"{meeting.title} ({meeting.network_name})")
    location = ", ".join(part for part in (meeting.venue, meeting.address) if part.strip())
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if method is Method.cancel else "CONFIRMED")
    organizer_box = mime.parse_mailbox(organizer)
    event.add(
        "organizer",
        f"mailto:{organizer_box.addr_spec}",
        parameters={"CN": _param(organizer_box.display_name or "Reglab")},
    )
    event.add(
        "attendee",
        f"mailto:{attendee.addr_spec}",
        parameters={
            "CN": _param(attendee.display_name or attendee.addr_spec),
            "ROLE": "REQ-PARTICIPANT",
            "RSVP": "FALSE",
        },
    )
    calendar.add_component(event)
    return calendar.to_ical()


def calendar_part(content: bytes, method: Method) -> mime.Part:
    """The attachment: ``text/calendar; method=...`` so mail clients treat it as an invitation."""
    filename = "avbokning.ics" if method is Method.cancel else "mote.ics"
    return mime.Part(content_type="text/calendar", content=content, filename=filename, method=method.value)
