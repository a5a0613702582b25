"""Staff acts on network weeks and meetings: each writes its event and audit entry in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, delete, func, select

from services.registration.catalogue import ACTIVE
from services.registration.meetings.contacts import invitees, sync_contacts
from services.registration.meetings.core import (
    MeetingClosed,
    lock_meeting,
    meeting_info,
    registered_count,
    weeks_of,
)
from services.registration.meetings.forms import FormInvalid, MeetingDraft
from services.registration.meetings.models import Meeting, NetworkWeek
from services.registration.meetings.participants import promote_waiting
from services.registration.meetings.rules import changes, meeting_year, reasons_needed
from services.registration.models import Network
from shared.audit import record_act
from shared.events import MeetingCancelled, MeetingScheduled, MeetingUpdated, NetworkWeeksSet
from shared.outbox import add_event

OUTSIDE_WEEKS = "Mötet ligger utanför årets nätverksveckor: ange ett skäl."
BEYOND_POLICY = "Nätverket har redan två möten detta år (högst två per år i möjligaste mån): ange ett skäl."


def set_network_weeks(
    session: Session,
    year: int,
    weeks: tuple[int, ...],
    *,
    actor: str,
    remote_addr: str,
    now: datetime,
    correlation_id: str,
) -> None:
    """Replace the year's network weeks (already validated by ``rules.parse_weeks``).

    Two staff saving at once: on PostgreSQL the second waits for the first to
    commit, then replaces its weeks (last save wins, both audited), instead of
    failing on the unique (year, week). SQLite writers already queue at BEGIN.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        connection.execute(text("LOCK TABLE reg_network_week IN SHARE ROW EXCLUSIVE MODE"))
    before = weeks_of(session, year)
    session.exec(delete(NetworkWeek).where(col(NetworkWeek.year) == year))
    for week in weeks:
        session.add(NetworkWeek(year=year, week=week))
    add_event(
        session, NetworkWeeksSet(occurred_at=now, correlation_id=correlation_id, year=year, weeks=weeks)
    )
    record_act(
        session,
        actor=actor,
        action="network_weeks.set",
        subject=f"network_weeks:{year}",
        detail=f"{year}: {', '.join(map(str, before)) or '–'} → {', '.join(map(str, weeks)) or '–'}",
        remote_addr=remote_addr,
        at=now,
    )


def _network(session: Session, code: str) -> Network:
    """The network, locked until commit (PostgreSQL), so two meetings scheduled or moved at once
    for the same network are counted one after the other against the two-a-year rule."""
    network = session.exec(select(Network).where(Network.code == code).with_for_update()).first()
    if network is None or network.status != ACTIVE:
        raise FormInvalid({"network": "Välj ett aktivt nätverk."})
    return network


def _other_meetings(session: Session, network_id: int, year: int, except_id: int | None) -> int:
    query = (
        select(func.count())
        .select_from(Meeting)
        .where(Meeting.network_id == network_id, Meeting.year == year, Meeting.status == "scheduled")
    )
    if except_id is not None:
        query = query.where(Meeting.id != except_id)
    return int(session.exec(query).one())


def _reasons(
    session: Session, draft: MeetingDraft, network_id: int, except_id: int | None, kept: Meeting | None = None
) -> tuple[str, str]:
    """The reasons the rules require (FormInvalid names missing ones); reasons not needed are dropped."""
    year = meeting_year(draft.starts_at)
    needed = reasons_needed(
        draft.starts_at, weeks_of(session, year), _other_meetings(session, network_id, year, except_id)
    )
    outside = draft.outside_weeks_reason or (kept.outside_weeks_reason if kept else "")
    extra = draft.extra_meeting_reason or (kept.extra_meeting_reason if kept else "")
    errors = {}
    if needed.outside_weeks and not outside:
        errors["outside_weeks_reason"] = OUTSIDE_WEEKS
    if needed.beyond_policy and not extra:
        errors["extra_meeting_reason"] = BEYOND_POLICY
    if errors:
        raise FormInvalid(errors)
    return (outside if needed.outside_weeks else ""), (extra if needed.beyond_policy else "")


def _cost_detail(meeting: Meeting) -> str:
    return f"lokal {meeting.cost_venue}, mat {meeting.cost_food}, talare {meeting.cost_speakers} kr"


def schedule_meeting(
    session: Session, draft: MeetingDraft, *, actor: str, remote_addr: str, now: datetime, correlation_id: str
) -> Meeting:
    network = _network(session, draft.network_code)
    assert network.id is not None
    outside, extra = _reasons(session, draft, network.id, None)
    meeting = Meeting(
        network_id=network.id,
        year=meeting_year(draft.starts_at),
        title=draft.title,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        venue=draft.venue,
        address=draft.address,
        agenda=draft.agenda,
        capacity=draft.capacity,
        registration_deadline=draft.registration_deadline,
        cost_venue=draft.cost_venue,
        cost_food=draft.cost_food,
        cost_speakers=draft.cost_speakers,
        outside_weeks_reason=outside,
        extra_meeting_reason=extra,
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    session.flush()
    sync_contacts(session, now)
    add_event(
        session,
        MeetingScheduled(
            occurred_at=now,
            correlation_id=correlation_id,
            meeting=meeting_info(meeting, network),
            invitees=invitees(session, network.id, meeting.year),
        ),
    )
    record_act(
        session,
        actor=actor,
        action="meeting.schedule",
        subject=f"meeting:{meeting.id}",
        detail=f"{network.name}: {draft.title}; {_cost_detail(meeting)}"
        + (f"; utanför nätverksveckorna: {outside}" if outside else "")
        + (f"; fler än två möten: {extra}" if extra else ""),
        remote_addr=remote_addr,
        at=now,
    )
    return meeting


def update_meeting(
    session: Session,
    meeting_id: int,
    draft: MeetingDraft,
    *,
    actor: str,
    remote_addr: str,
    now: datetime,
    correlation_id: str,
) -> tuple[Meeting, tuple[tuple[str, str, str], ...]]:
    """Change a meeting: ``meeting.updated`` with the changes and a bumped sequence; no change, no event."""
    meeting = lock_meeting(session, meeting_id)
    if meeting.status != "scheduled":
        raise MeetingClosed(meeting_id)
    network = session.exec(select(Network).where(Network.id == meeting.network_id).with_for_update()).first()
    assert network is not None and network.id is not None
    if draft.network_code != network.code:
        raise FormInvalid(
            {"network": "Ett möte kan inte flyttas till ett annat nätverk; ställ in det i stället."}
        )
    taken = registered_count(session, meeting_id)
    if draft.capacity < taken:
        raise FormInvalid(
            {"capacity": f"{taken} personer har redan plats; antalet platser kan inte bli färre."}
        )
    outside, extra = _reasons(session, draft, network.id, meeting_id, kept=meeting)
    before = {
        "title": meeting.title,
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "venue": meeting.venue,
        "address": meeting.address,
        "agenda": meeting.agenda,
        "capacity": meeting.capacity,
        "registration_deadline": meeting.registration_deadline,
    }
    changed = changes(before, draft.shown())
    costs_changed = (meeting.cost_venue, meeting.cost_food, meeting.cost_speakers) != (
        draft.cost_venue,
        draft.cost_food,
        draft.cost_speakers,
    )
    reasons_changed = (meeting.outside_weeks_reason, meeting.extra_meeting_reason) != (outside, extra)
    if not changed and not costs_changed and not reasons_changed:
        return meeting, ()
    for key, value in draft.shown().items():
        setattr(meeting, key, value)
    meeting.year = meeting_year(draft.starts_at)
    meeting.cost_venue, meeting.cost_food, meeting.cost_speakers = (
        draft.cost_venue,
        draft.cost_food,
        draft.cost_speakers,
    )
    meeting.outside_weeks_reason, meeting.extra_meeting_reason = outside, extra
    meeting.updated_at = now
    if changed:
        meeting.sequence += 1
    session.add(meeting)
    session.flush()
    if changed:
        sync_contacts(session, now)
        add_event(
            session,
            MeetingUpdated(
                occurred_at=now,
                correlation_id=correlation_id,
                meeting=meeting_info(meeting, network),
                changes=changed,
                invitees=invitees(session, network.id, meeting.year),
            ),
        )
        # More places: the waiting list moves up at once.
        promote_waiting(session, meeting, network, now=now, correlation_id=correlation_id)
    detail = "; ".join(f"{label}: {old} → {new}" for label, old, new in changed)
    if costs_changed:
        detail = "; ".join(filter(None, [detail, _cost_detail(meeting)]))
    if reasons_changed:
        detail = "; ".join(filter(None, [detail, f"skäl: {outside or '–'} / {extra or '–'}"]))
    record_act(
        session,
        actor=actor,
        action="meeting.update",
        subject=f"meeting:{meeting_id}",
        detail=detail,
        remote_addr=remote_addr,
        at=now,
    )
    return meeting, changed


def cancel_meeting(
    session: Session,
    meeting_id: int,
    reason: str,
    *,
    actor: str,
    remote_addr: str,
    now: datetime,
    correlation_id: str,
) -> Meeting:
    reason = reason.strip()
    if not reason:
        raise FormInvalid({"reason": "Ange varför mötet ställs in; skälet skickas till de inbjudna."})
    if len(reason) > 1000:
        raise FormInvalid({"reason": "Högst 1000 tecken."})
    meeting = lock_meeting(session, meeting_id)
    if meeting.status != "scheduled":
        raise MeetingClosed(meeting_id)
    network = session.get(Network, meeting.network_id)
    assert network is not None and network.id is not None
    meeting.status = "cancelled"
    meeting.cancel_reason = reason
    meeting.sequence += 1
    meeting.updated_at = now
    session.add(meeting)
    session.flush()
    sync_contacts(session, now)
    add_event(
        session,
        MeetingCancelled(
            occurred_at=now,
            correlation_id=correlation_id,
            meeting=meeting_info(meeting, network),
            reason=reason,
            invitees=invitees(session, network.id, meeting.year),
        ),
    )
    record_act(
        session,
        actor=actor,
        action="meeting.cancel",
        subject=f"meeting:{meeting_id}",
        detail=reason,
        remote_addr=remote_addr,
        at=now,
    )
    return meeting
