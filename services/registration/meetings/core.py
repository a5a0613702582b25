"""What the meeting use cases share: lookups, the meeting's row lock, and the event's view of a meeting."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, func, select

from services.registration.catalogue import ACTIVE
from services.registration.meetings.models import Meeting, MeetingParticipant, NetworkWeek
from services.registration.models import Network
from shared.events import MeetingInfo


class MeetingNotFound(LookupError):
    pass


class MeetingClosed(ValueError):
    """The meeting is cancelled: it cannot be changed or cancelled again."""


def weeks_of(session: Session, year: int) -> tuple[int, ...]:
    return tuple(
        session.exec(
            select(NetworkWeek.week).where(NetworkWeek.year == year).order_by(col(NetworkWeek.week))
        ).all()
    )


def meeting_info(meeting: Meeting, network: Network) -> MeetingInfo:
    return MeetingInfo(
        meeting_id=meeting.id or 0,
        network_code=network.code,
        network_name=network.name,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        venue=meeting.venue,
        address=meeting.address,
        agenda=meeting.agenda,
        capacity=meeting.capacity,
        registration_deadline=meeting.registration_deadline,
        sequence=meeting.sequence,
    )


def lock_meeting(session: Session, meeting_id: int) -> Meeting:
    """The meeting row, locked until commit (PostgreSQL); SQLite writers are serialised at BEGIN IMMEDIATE."""
    meeting = session.exec(select(Meeting).where(Meeting.id == meeting_id).with_for_update()).first()
    if meeting is None:
        raise MeetingNotFound(meeting_id)
    return meeting


def registered_count(session: Session, meeting_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(MeetingParticipant)
            .where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.status == "registered")
        ).one()
    )


def meetings_of_year(session: Session, year: int | None = None) -> Sequence[tuple[Meeting, Network]]:
    query = select(Meeting, Network).join(Network, col(Network.id) == Meeting.network_id)
    if year is not None:
        query = query.where(Meeting.year == year)
    return session.exec(query.order_by(col(Meeting.starts_at), col(Meeting.id))).all()


def active_networks(session: Session) -> list[Network]:
    return [
        n for n in session.exec(select(Network).order_by(col(Network.position))).all() if n.status == ACTIVE
    ]
