"""Meeting, participant and invoice events for the notifications' meeting and reminder tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from shared.events import (
    ContactUnsubscribed,
    Invitee,
    InvoiceOverdue,
    InvoicePaid,
    MeetingCancelled,
    MeetingInfo,
    MeetingInviteesChanged,
    MeetingScheduled,
    MeetingUpdated,
    NetworkWeeksSet,
    Participant,
    ParticipantCancelled,
    ParticipantPromoted,
    ParticipantRegistered,
)
from tests.support.notifications import organisation

SCHEDULED_AT = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
STARTS = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)  # 10.00 in Stockholm
ENDS = datetime(2027, 3, 16, 15, 0, tzinfo=UTC)
DEADLINE = date(2027, 3, 9)
SECRET = "test-secret-key-0123456789"
PUBLIC_URL = "http://registration.test:8000"


def meeting(
    *,
    meeting_id: int = 12,
    sequence: int = 0,
    title: str = "Vårträff: regional statistik",
    venue: str = "Reglab, Konferensrum Ljuset",
    address: str = "Storgatan 1, 111 22 Stockholm",
    capacity: int = 30,
    starts_at: datetime = STARTS,
    ends_at: datetime = ENDS,
    deadline: date = DEADLINE,
    agenda: str = "09.30 Välkommen",
) -> MeetingInfo:
    return MeetingInfo(
        meeting_id=meeting_id,
        network_code="analytiker",
        network_name="Analytikernätverket",
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        venue=venue,
        address=address,
        agenda=agenda,
        capacity=capacity,
        registration_deadline=deadline,
        sequence=sequence,
    )


def invitee(contact_id: int, name: str = "", email: str = "") -> Invitee:
    return Invitee(
        contact_id=contact_id,
        name=name or f"Kontakt {contact_id}",
        email=email or f"kontakt{contact_id}@kommun.example",
        organisation_id=100 + contact_id,
        organisation_name=f"Kommun {contact_id}",
    )


def participant(participant_id: int, contact_id: int | None) -> Participant:
    email = f"kontakt{contact_id}@kommun.example" if contact_id else f"gast{participant_id}@exempel.example"
    return Participant(
        participant_id=participant_id,
        name=f"Deltagare {participant_id}",
        email=email,
        organisation_name="Kommun",
        contact_id=contact_id,
    )


def scheduled(
    info: MeetingInfo | None = None, invitees: tuple[Invitee, ...] | None = None, at: datetime = SCHEDULED_AT
) -> MeetingScheduled:
    info = info or meeting()
    return MeetingScheduled(
        occurred_at=at,
        correlation_id=f"meeting-{info.meeting_id}",
        meeting=info,
        invitees=invitees if invitees is not None else (invitee(1), invitee(2), invitee(3)),
    )


def updated(
    info: MeetingInfo,
    changes: tuple[tuple[str, str, str], ...],
    invitees: tuple[Invitee, ...] = (),
    at: datetime = SCHEDULED_AT,
) -> MeetingUpdated:
    return MeetingUpdated(
        occurred_at=at,
        correlation_id=f"meeting-{info.meeting_id}",
        meeting=info,
        changes=changes,
        invitees=invitees,
    )


def invitees_changed(
    info: MeetingInfo, invitees: tuple[Invitee, ...], at: datetime = SCHEDULED_AT
) -> MeetingInviteesChanged:
    return MeetingInviteesChanged(
        occurred_at=at, correlation_id=f"invitees-{info.meeting_id}", meeting=info, invitees=invitees
    )


def cancelled(
    info: MeetingInfo,
    invitees: tuple[Invitee, ...] = (),
    reason: str = "För få anmälda",
    at: datetime = SCHEDULED_AT,
) -> MeetingCancelled:
    return MeetingCancelled(
        occurred_at=at,
        correlation_id=f"meeting-{info.meeting_id}",
        meeting=info,
        reason=reason,
        invitees=invitees,
    )


def registered(
    info: MeetingInfo, who: Participant, status: str = "registered", at: datetime = SCHEDULED_AT
) -> ParticipantRegistered:
    return ParticipantRegistered(
        occurred_at=at,
        correlation_id=f"participant-{who.participant_id}",
        meeting=info,
        participant=who,
        status=status,
    )


def participant_cancelled(
    info: MeetingInfo, who: Participant, at: datetime = SCHEDULED_AT
) -> ParticipantCancelled:
    return ParticipantCancelled(
        occurred_at=at, correlation_id=f"participant-{who.participant_id}", meeting=info, participant=who
    )


def promoted(info: MeetingInfo, who: Participant, at: datetime = SCHEDULED_AT) -> ParticipantPromoted:
    return ParticipantPromoted(
        occurred_at=at, correlation_id=f"participant-{who.participant_id}", meeting=info, participant=who
    )


def unsubscribed(contact_id: int, at: datetime = SCHEDULED_AT) -> ContactUnsubscribed:
    return ContactUnsubscribed(
        occurred_at=at,
        correlation_id=f"contact-{contact_id}",
        contact_id=contact_id,
        email=f"kontakt{contact_id}@kommun.example",
    )


def overdue(
    number: str = "2027-00042",
    *,
    due: date = date(2027, 2, 1),
    as_of: date = date(2027, 2, 2),
    invoice_email: str = "faktura@region-varmland.example",
) -> InvoiceOverdue:
    return InvoiceOverdue(
        occurred_at=datetime.combine(as_of, datetime.min.time(), tzinfo=UTC),
        correlation_id=f"overdue-{number}",
        number=number,
        organisation=organisation(invoice_email),
        issue_date=date(2027, 1, 2),
        due_date=due,
        as_of=as_of,
        total=Decimal("5000.00"),
        outstanding=Decimal("5000.00"),
        ocr="2027004204",
    )


def paid(number: str = "2027-00042", on: date = date(2027, 2, 10)) -> InvoicePaid:
    return InvoicePaid(
        occurred_at=datetime.combine(on, datetime.min.time(), tzinfo=UTC),
        correlation_id=f"paid-{number}",
        number=number,
        organisation=organisation(),
        status="paid",
        total=Decimal("5000.00"),
        paid_amount=Decimal("5000.00"),
        paid_on=on,
    )


def network_weeks(year: int, *weeks: int) -> NetworkWeeksSet:
    return NetworkWeeksSet(occurred_at=SCHEDULED_AT, correlation_id=f"weeks-{year}", year=year, weeks=weeks)
