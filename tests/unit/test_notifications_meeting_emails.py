"""Meeting emails: the .ics parsed back with icalendar, the signed links, who gets what, and MIME."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import icalendar
import pytest

from services.notifications import domain, ics, meetings, mime, timefmt
from services.notifications.domain import EmailKind
from shared.links import LinkInvalid, verify_link
from tests.support.meeting_events import (
    PUBLIC_URL,
    SCHEDULED_AT,
    SECRET,
    STARTS,
    cancelled,
    invitee,
    meeting,
    participant,
    scheduled,
    updated,
)

ORGANIZER = "Reglab <natverk@reglab.example>"
LINKS = meetings.Links(SECRET, PUBLIC_URL)
HOSTILE = 'Möte; med, komma\\ och\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Falskt "citat"'


def parse(outgoing: domain.OutgoingEmail) -> EmailMessage:
    raw = domain.render(
        outgoing, sender=ORGANIZER, event_id="0b0c8f8e-4b7e-4a8e-9a43-2a4d1f0e0001", date=SCHEDULED_AT
    ).raw
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def calendar_of(message: EmailMessage) -> tuple[icalendar.Calendar, str]:
    """The .ics attachment parsed, and the iTIP method its Content-Type names."""
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    content = part.get_content()
    data = content.encode() if isinstance(content, str) else content
    return icalendar.Calendar.from_ical(data), str(part.get_param("method"))


def only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


def link(text: str, path: str) -> str:
    found = re.search(re.escape(PUBLIC_URL + path) + r"([A-Za-z0-9._-]+)", text)
    assert found, f"no {path} link in the text"
    return found.group(1)


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_an_invitation_carries_a_request_ics_with_a_stable_uid_utc_times_and_the_sequence() -> None:
    event = scheduled(meeting(sequence=3))
    [first, *_] = meetings.invitation_emails(
        event, links=LINKS, organizer=ORGANIZER, unsubscribed=frozenset()
    )
    message = parse(first)
    calendar, content_type = calendar_of(message)

    assert content_type == "REQUEST"
    assert str(calendar["METHOD"]) == "REQUEST"
    vevent = only_event(calendar)
    assert str(vevent["UID"]) == "meeting-12@reglab"
    assert vevent.decoded("SEQUENCE") == 3
    assert vevent.decoded("DTSTART") == STARTS and vevent.decoded("DTSTART").tzinfo is not None
    assert vevent.decoded("DTEND") == datetime(2027, 3, 16, 15, 0, tzinfo=UTC)
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert str(vevent["ATTENDEE"]) == "mailto:kontakt1@kommun.example"


def test_hostile_user_text_is_escaped_by_the_library_and_cannot_add_events_or_properties() -> None:
    info = meeting(title=HOSTILE, agenda=HOSTILE, venue=HOSTILE)
    who = meetings.Recipient(name='Eva "\r\nX-EVIL:1', email="eva@kommun.example", contact_id=1)
    content = ics.meeting_calendar(
        info,
        method=ics.Method.request,
        organizer=ORGANIZER,
        attendee=mime.parse_mailbox(who.email, who.name),
        stamp=SCHEDULED_AT,
        description=info.agenda,
    )
    calendar = icalendar.Calendar.from_ical(content)

    vevent = only_event(calendar)
    # The text comes back as typed (a line break as a line break), as one property each.
    typed = HOSTILE.replace("\r\n", "\n")
    assert str(vevent["SUMMARY"]).replace("\r\n", "\n") == f"{typed} (Analytikernätverket)"
    assert str(vevent["DESCRIPTION"]).replace("\r\n", "\n") == typed
    lines = content.split(b"\r\n")
    assert "X-EVIL" not in vevent and not any(line.startswith(b"X-EVIL") for line in lines)
    assert lines.count(b"BEGIN:VEVENT") == 1 and lines.count(b"END:VEVENT") == 1


def test_an_invitation_has_a_personal_signup_link_valid_through_the_deadline_day_in_stockholm() -> None:
    [outgoing, *_] = meetings.invitation_emails(
        scheduled(), links=LINKS, organizer=ORGANIZER, unsubscribed=frozenset()
    )
    token = link(body(parse(outgoing)), "/moten/anmalan/")

    last_second = datetime(2027, 3, 9, 22, 59, 58, tzinfo=UTC)  # 23:59:58 in Stockholm (CET)
    assert verify_link(SECRET, "meeting-signup", token, last_second) == {"m": 12, "c": 1}
    with pytest.raises(LinkInvalid):
        verify_link(SECRET, "meeting-signup", token, last_second + timedelta(seconds=2))
    with pytest.raises(LinkInvalid):
        verify_link(SECRET, "meeting-cancel", token, SCHEDULED_AT)


def test_every_invitation_carries_an_unsubscribe_link_valid_for_a_year() -> None:
    [outgoing, *_] = meetings.invitation_emails(
        scheduled(), links=LINKS, organizer=ORGANIZER, unsubscribed=frozenset()
    )
    token = link(body(parse(outgoing)), "/avregistrera/")

    assert verify_link(SECRET, "unsubscribe", token, SCHEDULED_AT + timedelta(days=364)) == {"c": 1}
    with pytest.raises(LinkInvalid):
        verify_link(SECRET, "unsubscribe", token, SCHEDULED_AT + timedelta(days=365))


def test_unsubscribed_contacts_get_no_invitation() -> None:
    emails = meetings.invitation_emails(
        scheduled(), links=LINKS, organizer=ORGANIZER, unsubscribed=frozenset({2})
    )

    assert [e.to_address for e in emails] == ["kontakt1@kommun.example", "kontakt3@kommun.example"]
    assert {e.kind for e in emails} == {EmailKind.meeting_invitation}


def test_an_update_lists_the_changes_and_sends_the_same_uid_with_a_higher_sequence() -> None:
    info = meeting(sequence=4, venue="Nya lokalen")
    event = updated(info, (("Lokal", "Gamla lokalen", "Nya lokalen"),), invitees=(invitee(1),))
    recipients = meetings.audience(event.invitees, [], unsubscribed=frozenset())
    [outgoing] = meetings.update_emails(event, recipients, links=LINKS, organizer=ORGANIZER)
    message = parse(outgoing)

    assert "Lokal: Gamla lokalen → Nya lokalen" in body(message)
    vevent = only_event(calendar_of(message)[0])
    assert str(vevent["UID"]) == "meeting-12@reglab" and vevent.decoded("SEQUENCE") == 4
    assert message["Subject"] == "Ändrat möte: Vårträff: regional statistik"


def test_the_waiting_list_gets_the_change_without_a_calendar_file() -> None:
    info = meeting(sequence=4, venue="Nya lokalen")
    event = updated(info, (("Lokal", "Gamla lokalen", "Nya lokalen"),), invitees=())
    waiting = meetings.participant_recipient(participant(41, contact_id=None), "waiting")
    registered = meetings.participant_recipient(
        participant(40, contact_id=None).model_copy(update={"email": "plats@kommun.example"}), "registered"
    )
    emails = meetings.update_emails(event, [waiting, registered], links=LINKS, organizer=ORGANIZER)
    by_address = {e.to_address: parse(e) for e in emails}

    on_list = by_address[waiting.email]
    assert not [p for p in on_list.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert "Lokal: Gamla lokalen → Nya lokalen" in body(on_list)
    assert "Du står på väntelistan." in body(on_list) and "ingen kalenderfil" in body(on_list)
    assert calendar_of(by_address["plats@kommun.example"])[1] == "REQUEST"


def test_a_meeting_without_a_venue_says_so_and_its_ics_has_no_location() -> None:
    event = scheduled(meeting(venue="", address=""))
    [first, *_] = meetings.invitation_emails(
        event, links=LINKS, organizer=ORGANIZER, unsubscribed=frozenset()
    )
    message = parse(first)

    assert "Plats:    Lokal ej bestämd" in body(message)
    assert "LOCATION" not in only_event(calendar_of(message)[0])


def test_a_cancellation_sends_a_cancel_ics_to_participants_even_if_they_unsubscribed() -> None:
    info = meeting(sequence=5)
    who = meetings.participant_recipient(participant(40, contact_id=2), "registered")
    recipients = meetings.audience((invitee(1), invitee(2)), [who], unsubscribed=frozenset({2}))
    emails = meetings.cancellation_emails(
        cancelled(info, (invitee(1), invitee(2))), recipients, organizer=ORGANIZER
    )

    assert sorted(e.to_address for e in emails) == ["kontakt1@kommun.example", "kontakt2@kommun.example"]
    calendar, content_type = calendar_of(parse(emails[0]))
    assert content_type == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    vevent = only_event(calendar)
    assert str(vevent["STATUS"]) == "CANCELLED" and vevent.decoded("SEQUENCE") == 5
    assert "För få anmälda" in body(parse(emails[0]))


@pytest.mark.parametrize(
    ("what", "kind", "has_calendar"),
    [
        ("registered", EmailKind.participant_registered, True),
        ("waiting", EmailKind.participant_waiting, False),
        ("promoted", EmailKind.participant_promoted, True),
    ],
)
def test_participant_emails_carry_a_cancellation_link_valid_until_the_meeting_starts(
    what: str, kind: EmailKind, has_calendar: bool
) -> None:
    outgoing = meetings.participant_email(
        what, meeting(), participant(40, contact_id=1), links=LINKS, organizer=ORGANIZER, sent_at=SCHEDULED_AT
    )
    message = parse(outgoing)
    token = link(body(message), "/moten/avboka/")

    assert outgoing.kind is kind
    assert verify_link(SECRET, "meeting-cancel", token, STARTS - timedelta(seconds=1)) == {"p": 40}
    with pytest.raises(LinkInvalid):
        verify_link(SECRET, "meeting-cancel", token, STARTS)
    calendars = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == (1 if has_calendar else 0)


def test_a_cancellation_receipt_confirms_and_offers_to_sign_up_again() -> None:
    outgoing = meetings.participant_email(
        "cancelled",
        meeting(),
        participant(40, contact_id=1),
        links=LINKS,
        organizer=ORGANIZER,
        sent_at=SCHEDULED_AT,
    )
    text = body(parse(outgoing))

    assert outgoing.kind is EmailKind.participant_cancelled
    assert "är avbokad" in text
    assert verify_link(SECRET, "meeting-signup", link(text, "/moten/anmalan/"), SCHEDULED_AT) == {
        "m": 12,
        "c": 1,
    }


def test_meeting_times_are_shown_in_stockholm_time_in_swedish() -> None:
    assert timefmt.swedish_datetime(STARTS) == "tisdag 16 mars 2027 kl. 10.00"
    assert timefmt.swedish_datetime(datetime(2027, 6, 1, 7, 30, tzinfo=UTC)) == "tisdag 1 juni 2027 kl. 09.30"


def test_the_invoice_path_keeps_its_pdf_attachment_without_a_method_or_charset() -> None:
    raw = mime.build(
        [("Subject", "x")],
        text="hej",
        attachments=[mime.Part(content_type="application/pdf", content=b"%PDF", filename="faktura.pdf")],
    )

    assert b'Content-Type: application/pdf; name="faktura.pdf"' in raw
    assert b"method=" not in raw


def test_a_calendar_method_must_be_an_itip_word() -> None:
    with pytest.raises(ValueError, match="iTIP"):
        mime.build(
            [("Subject", "x")],
            text="hej",
            attachments=[
                mime.Part(
                    content_type="text/calendar", content=b"", filename="a.ics", method="REQUEST\r\nX: y"
                )
            ],
        )
