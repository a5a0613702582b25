"""Meeting sign-up: a place while one is free, else the waiting list; a freed place goes to the first waiting.

Every sign-up and cancellation locks the meeting row first (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite writers are serialised by ``BEGIN
IMMEDIATE``), so two people signing up for the last place are counted one
after the other and only one gets it. The promotion is written in the same
transaction as the cancellation that freed the place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from services.registration.meetings.core import lock_meeting, meeting_info, registered_count
from services.registration.meetings.forms import PersonDraft
from services.registration.meetings.models import Contact, Meeting, MeetingParticipant
from services.registration.meetings.rules import (
    places_to_promote,
    registration_open,
    signup_status,
    waiting_order,
)
from services.registration.models import Network
from shared.events import Participant, ParticipantCancelled, ParticipantPromoted, ParticipantRegistered
from shared.outbox import add_event

MEETING_CANCELLED = "Mötet är inställt."
DEADLINE_PASSED = "Sista anmälningsdag har passerat."
MEETING_STARTED = "Mötet har redan börjat."


class SignupRefused(ValueError):
    """The meeting no longer takes sign-ups (cancelled, or past its deadline); the message is Swedish."""


@dataclass(frozen=True)
class SignupOutcome:
    participant: MeetingParticipant
    created: bool  # False: this e-mail was already signed up, so nothing new happened


def participant_of(p: MeetingParticipant) -> Participant:
    return Participant(
        participant_id=p.id or 0,
        name=p.name,
        email=p.email,
        organisation_name=p.organisation_name,
        contact_id=p.contact_id,
    )


def _network(session: Session, meeting: Meeting) -> Network:
    network = session.get(Network, meeting.network_id)
    assert network is not None
    return network


def sign_up(
    session: Session,
    meeting_id: int,
    person: PersonDraft,
    *,
    contact_id: int | None,
    now: datetime,
    correlation_id: str,
) -> SignupOutcome:
    meeting = lock_meeting(session, meeting_id)
    if meeting.status != "scheduled":
        raise SignupRefused(MEETING_CANCELLED)
    if not registration_open(meeting.registration_deadline, now):
        raise SignupRefused(DEADLINE_PASSED)
    if contact_id is not None and session.get(Contact, contact_id) is None:
        contact_id = None  # a removed-and-purged contact: the sign-up still counts
    found = session.exec(
        select(MeetingParticipant).where(
            MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.email == person.email
        )
    ).first()
    if found is not None and found.status != "cancelled":
        return SignupOutcome(found, created=False)
    status = signup_status(meeting.capacity, registered_count(session, meeting_id))
    participant = found or MeetingParticipant(
        meeting_id=meeting_id,
        email=person.email,
        name=person.name,
        organisation_name=person.organisation,
        status=status,
        queued_at=now,
        created_at=now,
        updated_at=now,
    )
    participant.name, participant.organisation_name = person.name, person.organisation
    participant.dietary, participant.contact_id = person.dietary, contact_id
    participant.status, participant.queued_at, participant.updated_at = status, now, now
    session.add(participant)
    session.flush()
    add_event(
        session,
        ParticipantRegistered(
            occurred_at=now,
            correlation_id=correlation_id,
            meeting=meeting_info(meeting, _network(session, meeting)),
            participant=participant_of(participant),
            status=status,
        ),
    )
    return SignupOutcome(participant, created=True)


def cancel_participation(
    session: Session, participant_id: int, *, now: datetime, correlation_id: str
) -> tuple[MeetingParticipant, MeetingParticipant | None]:
    """Cancel a place (or a spot on the waiting list); returns it and who was promoted, if anyone.

    Cancelling twice changes nothing the second time.
    """
    found = session.get(MeetingParticipant, participant_id)
    if found is None:
        raise LookupError(participant_id)
    meeting = lock_meeting(session, found.meeting_id)
    session.refresh(found)  # read again under the meeting's lock
    if found.status == "cancelled":
        return found, None
    if meeting.status != "scheduled":
        raise SignupRefused(MEETING_CANCELLED)
    if meeting.starts_at <= now:
        raise SignupRefused(MEETING_STARTED)
    found.status, found.updated_at = "cancelled", now
    session.add(found)
    session.flush()
    network = _network(session, meeting)
    add_event(
        session,
        ParticipantCancelled(
            occurred_at=now,
            correlation_id=correlation_id,
            meeting=meeting_info(meeting, network),
            participant=participant_of(found),
        ),
    )
    promoted = promote_waiting(session, meeting, network, now=now, correlation_id=correlation_id)
    return found, (promoted[0] if promoted else None)


def promote_waiting(
    session: Session, meeting: Meeting, network: Network, *, now: datetime, correlation_id: str
) -> list[MeetingParticipant]:
    """Give free places to the head of the waiting list (the caller holds the meeting's lock)."""
    if meeting.status != "scheduled" or meeting.starts_at <= now:
        return []
    waiting = session.exec(
        select(MeetingParticipant).where(
            MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.status == "waiting"
        )
    ).all()
    count = places_to_promote(meeting.capacity, registered_count(session, meeting.id or 0), len(waiting))
    by_id = {p.id: p for p in waiting}
    promoted = [by_id[pid] for pid in waiting_order([(p.id or 0, p.queued_at) for p in waiting])[:count]]
    for participant in promoted:
        participant.status, participant.updated_at = "registered", now
        session.add(participant)
        add_event(
            session,
            ParticipantPromoted(
                occurred_at=now,
                correlation_id=correlation_id,
                meeting=meeting_info(meeting, network),
                participant=participant_of(participant),
            ),
        )
    session.flush()
    return promoted


def waiting_position(session: Session, participant: MeetingParticipant) -> int | None:
    """Where a waiting participant stands in the queue (1 is next), or None when not waiting."""
    if participant.status != "waiting":
        return None
    waiting = session.exec(
        select(MeetingParticipant.id, MeetingParticipant.queued_at).where(
            MeetingParticipant.meeting_id == participant.meeting_id, MeetingParticipant.status == "waiting"
        )
    ).all()
    return waiting_order([(pid or 0, at) for pid, at in waiting]).index(participant.id or 0) + 1


def participants_of(session: Session, meeting_id: int) -> Sequence[MeetingParticipant]:
    """Registered first, then the waiting list in its order, then the cancelled."""
    rows = session.exec(
        select(MeetingParticipant)
        .where(MeetingParticipant.meeting_id == meeting_id)
        .order_by(col(MeetingParticipant.queued_at), col(MeetingParticipant.id))
    ).all()
    rank = {"registered": 0, "waiting": 1, "cancelled": 2}
    return sorted(rows, key=lambda p: rank.get(p.status, 3))
