"""Notifications' own small copies of what other services published: meetings, invitees, participants,
unsubscribed contacts, invoices, network weeks and dead letters.

Reminders and the staff digest are computed from these tables (never from
another service's database). Each is kept by the event handlers in the
consumer's transaction; a meeting's row only moves forward (a higher or equal
SEQUENCE), so a late, older event cannot undo a newer one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric
from sqlmodel import Field, Session, SQLModel, col, select

from services.notifications.models import UtcDateTime
from shared.events import Invitee, MeetingInfo, Participant


class MeetingView(SQLModel, table=True):
    __tablename__ = "ntf_meeting"

    meeting_id: int = Field(primary_key=True)
    network_code: str = Field(max_length=100)
    network_name: str = Field(max_length=200)
    title: str = Field(max_length=500)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    venue: str = Field(default="", max_length=500)
    address: str = Field(default="", max_length=500)
    agenda: str = Field(default="", max_length=10000)
    capacity: int = 0
    registration_deadline: date
    sequence: int = 0
    cancelled: bool = False
    # When the invitee list now held was published: an older list arriving late is ignored.
    invitees_as_of: datetime | None = Field(default=None, sa_type=UtcDateTime)

    def info(self) -> MeetingInfo:
        return MeetingInfo(
            meeting_id=self.meeting_id,
            network_code=self.network_code,
            network_name=self.network_name,
            title=self.title,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            venue=self.venue,
            address=self.address,
            agenda=self.agenda,
            capacity=self.capacity,
            registration_deadline=self.registration_deadline,
            sequence=self.sequence,
        )


class InviteeView(SQLModel, table=True):
    __tablename__ = "ntf_invitee"

    meeting_id: int = Field(primary_key=True)
    contact_id: int = Field(primary_key=True)
    name: str = Field(max_length=300)
    email: str = Field(max_length=320)
    organisation_id: int
    organisation_name: str = Field(max_length=300)


class InvitedContact(SQLModel, table=True):
    """Who has been sent a meeting's invitation: a contact added to the list later is invited once."""

    __tablename__ = "ntf_meeting_invited"

    meeting_id: int = Field(primary_key=True)
    contact_id: int = Field(primary_key=True)
    invited_at: datetime = Field(sa_type=UtcDateTime)


class ParticipantView(SQLModel, table=True):
    __tablename__ = "ntf_participant"
    __table_args__ = (Index("ix_ntf_participant_meeting", "meeting_id"),)

    participant_id: int = Field(primary_key=True)
    meeting_id: int
    contact_id: int | None = None
    name: str = Field(max_length=300)
    email: str = Field(max_length=320)
    organisation_name: str = Field(default="", max_length=300)
    # registered | waiting | cancelled
    status: str = Field(max_length=20)


class UnsubscribedContact(SQLModel, table=True):
    __tablename__ = "ntf_unsubscribed"

    contact_id: int = Field(primary_key=True)
    email: str = Field(max_length=320)
    at: datetime = Field(sa_type=UtcDateTime)


class InvoiceView(SQLModel, table=True):
    """An invoice as payment reminders need it; ``overdue_as_of`` is set by ``invoice.overdue``."""

    __tablename__ = "ntf_invoice"

    number: str = Field(primary_key=True, max_length=40)
    organisation: str = Field(max_length=300)
    email: str = Field(max_length=320)
    due_date: date
    ocr: str = Field(default="", max_length=40)
    total: Decimal = Field(default=Decimal("0.00"), sa_type=Numeric(14, 2))
    outstanding: Decimal = Field(default=Decimal("0.00"), sa_type=Numeric(14, 2))
    overdue_as_of: date | None = None
    paid: bool = False
    credited: bool = False


class NetworkWeeks(SQLModel, table=True):
    __tablename__ = "ntf_network_weeks"

    year: int = Field(primary_key=True)
    # ISO week numbers, comma-separated.
    weeks: str = Field(default="", max_length=400)


class DeadLetterSeen(SQLModel, table=True):
    __tablename__ = "ntf_dead_letter"

    dead_letter_id: str = Field(primary_key=True, max_length=200)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    source_stream: str = Field(max_length=200)
    group: str = Field(max_length=200)
    event_type: str = Field(default="", max_length=100)
    error: str = Field(default="", max_length=2000)


READ_MODELS: list[type[SQLModel]] = [
    MeetingView,
    InviteeView,
    InvitedContact,
    ParticipantView,
    UnsubscribedContact,
    InvoiceView,
    NetworkWeeks,
    DeadLetterSeen,
]


# --- Keeping them -------------------------------------------------------------


def upsert_meeting(session: Session, meeting: MeetingInfo, *, cancelled: bool | None = None) -> MeetingView:
    row = session.get(MeetingView, meeting.meeting_id)
    if row is None:
        row = MeetingView(
            meeting_id=meeting.meeting_id,
            network_code=meeting.network_code,
            network_name=meeting.network_name,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            registration_deadline=meeting.registration_deadline,
        )
    if meeting.sequence >= row.sequence:
        for name in (
            "network_code",
            "network_name",
            "title",
            "starts_at",
            "ends_at",
            "venue",
            "address",
            "agenda",
            "capacity",
            "registration_deadline",
            "sequence",
        ):
            setattr(row, name, getattr(meeting, name))
    if cancelled is not None:
        row.cancelled = cancelled
    session.add(row)
    return row


def replace_invitees(
    session: Session, meeting: MeetingView, invitees: tuple[Invitee, ...], as_of: datetime
) -> bool:
    """Hold ``invitees`` as the meeting's list, unless a newer list is held already; whether it was."""
    if meeting.invitees_as_of is not None and as_of < meeting.invitees_as_of:
        return False
    meeting.invitees_as_of = as_of
    session.add(meeting)
    meeting_id = meeting.meeting_id
    for old in session.exec(select(InviteeView).where(InviteeView.meeting_id == meeting_id)).all():
        session.delete(old)
    session.flush()
    for invitee in invitees:
        session.add(
            InviteeView(
                meeting_id=meeting_id,
                contact_id=invitee.contact_id,
                name=invitee.name,
                email=invitee.email,
                organisation_id=invitee.organisation_id,
                organisation_name=invitee.organisation_name,
            )
        )
    session.flush()
    return True


def not_yet_invited(session: Session, meeting_id: int, invitees: tuple[Invitee, ...]) -> tuple[Invitee, ...]:
    invited = set(
        session.exec(select(InvitedContact.contact_id).where(InvitedContact.meeting_id == meeting_id)).all()
    )
    return tuple(i for i in invitees if i.contact_id not in invited)


def mark_invited(session: Session, meeting_id: int, invitees: tuple[Invitee, ...], at: datetime) -> None:
    for contact_id in sorted({i.contact_id for i in invitees}):
        if session.get(InvitedContact, (meeting_id, contact_id)) is None:
            session.add(InvitedContact(meeting_id=meeting_id, contact_id=contact_id, invited_at=at))
    session.flush()


def set_participant(session: Session, meeting_id: int, participant: Participant, status: str) -> None:
    row = session.get(ParticipantView, participant.participant_id)
    if row is None:
        row = ParticipantView(
            participant_id=participant.participant_id,
            meeting_id=meeting_id,
            name=participant.name,
            email=participant.email,
            status=status,
        )
    row.contact_id = participant.contact_id
    row.name, row.email, row.organisation_name = (
        participant.name,
        participant.email,
        participant.organisation_name,
    )
    row.status = status
    session.add(row)
    session.flush()


def participants_of(session: Session, meeting_id: int) -> list[ParticipantView]:
    statement = (
        select(ParticipantView)
        .where(ParticipantView.meeting_id == meeting_id)
        .order_by(col(ParticipantView.participant_id))
    )
    return list(session.exec(statement).all())


def unsubscribed_ids(session: Session) -> frozenset[int]:
    return frozenset(session.exec(select(UnsubscribedContact.contact_id)).all())


def mark_unsubscribed(session: Session, contact_id: int, email: str, at: datetime) -> None:
    if session.get(UnsubscribedContact, contact_id) is None:
        session.add(UnsubscribedContact(contact_id=contact_id, email=email, at=at))
        session.flush()


def invoice_row(session: Session, number: str) -> InvoiceView | None:
    return session.get(InvoiceView, number)
