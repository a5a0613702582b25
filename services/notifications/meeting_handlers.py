"""Handlers of registration's meeting events: keep the read models, record the emails each event calls for.

Everything runs in the consumer's transaction (with its ``processed_event``
mark), so an event updates the read models and queues its emails once. An
unsubscribed contact (``contact.unsubscribed``) gets no more invitations, and
the reminder rules read the same tables.

``meeting.invitees_changed`` replaces a meeting's invitee list (a removed
contact then gets no invitation reminder) and invites the contacts on it that
were never invited; ``ntf_meeting_invited`` remembers who was, so nobody is
invited twice, whichever of the meeting's events brought them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from services.notifications import meetings, readmodels, timefmt
from services.notifications.domain import OutgoingEmail
from services.notifications.settings import NotificationsSettings
from shared.consumer import EventHandler
from shared.events import (
    ContactUnsubscribed,
    EventBase,
    Invitee,
    MeetingCancelled,
    MeetingInviteesChanged,
    MeetingScheduled,
    MeetingUpdated,
    NetworkWeeksSet,
    ParticipantCancelled,
    ParticipantPromoted,
    ParticipantRegistered,
)

Record = Callable[[Session, EventBase, list[OutgoingEmail], datetime], None]


def make_meeting_handlers(
    settings: NotificationsSettings, clock: Callable[[], datetime], record: Record
) -> dict[str, EventHandler]:
    """``record(session, event, emails, now)`` stores the emails (handlers.record_emails and staff alerts)."""
    links = meetings.Links(settings.secret_key, settings.registration_public_url)
    organizer = settings.mail_from

    def participants_as_recipients(session: Session, meeting_id: int) -> list[meetings.Recipient]:
        return [
            meetings.Recipient(
                name=p.name,
                email=p.email,
                organisation=p.organisation_name,
                contact_id=p.contact_id,
                participant_id=p.participant_id,
                status=p.status,
            )
            for p in readmodels.participants_of(session, meeting_id)
        ]

    def invite(
        session: Session,
        meeting: readmodels.MeetingView,
        event: MeetingScheduled | MeetingInviteesChanged,
        invitees: tuple[Invitee, ...],
    ) -> None:
        """Invitations to those of ``invitees`` not yet invited to the meeting (nor unsubscribed)."""
        unsubscribed = readmodels.unsubscribed_ids(session)
        new = tuple(
            i
            for i in readmodels.not_yet_invited(session, meeting.meeting_id, invitees)
            if i.contact_id not in unsubscribed
        )
        emails = meetings.invitations(
            meeting.info(),
            new,
            links=links,
            organizer=organizer,
            unsubscribed=unsubscribed,
            sent_at=event.occurred_at,
        )
        readmodels.mark_invited(session, meeting.meeting_id, new, event.occurred_at)
        record(session, event, emails, clock())

    def on_scheduled(session: Session, event: MeetingScheduled) -> None:
        row = readmodels.upsert_meeting(session, event.meeting, cancelled=False)
        readmodels.replace_invitees(session, row, event.invitees, event.occurred_at)
        invite(session, row, event, event.invitees)

    def on_invitees_changed(session: Session, event: MeetingInviteesChanged) -> None:
        row = readmodels.upsert_meeting(session, event.meeting)
        if not readmodels.replace_invitees(session, row, event.invitees, event.occurred_at):
            return  # a newer list is held already
        # Too late to sign up (the link would have expired) or nothing to sign up for: no invitation.
        if row.cancelled or clock() > timefmt.end_of_day(row.registration_deadline):
            return
        invite(session, row, event, event.invitees)

    def on_updated(session: Session, event: MeetingUpdated) -> None:
        row = readmodels.upsert_meeting(session, event.meeting)
        readmodels.replace_invitees(session, row, event.invitees, event.occurred_at)
        recipients = meetings.audience(
            event.invitees,
            participants_as_recipients(session, event.meeting.meeting_id),
            unsubscribed=readmodels.unsubscribed_ids(session),
        )
        record(
            session,
            event,
            meetings.update_emails(event, recipients, links=links, organizer=organizer),
            clock(),
        )

    def on_cancelled(session: Session, event: MeetingCancelled) -> None:
        row = readmodels.upsert_meeting(session, event.meeting, cancelled=True)
        readmodels.replace_invitees(session, row, event.invitees, event.occurred_at)
        recipients = meetings.audience(
            event.invitees,
            participants_as_recipients(session, event.meeting.meeting_id),
            unsubscribed=readmodels.unsubscribed_ids(session),
        )
        record(session, event, meetings.cancellation_emails(event, recipients, organizer=organizer), clock())

    def participant_event(what: str, status: str) -> EventHandler:
        def handle(
            session: Session, event: ParticipantRegistered | ParticipantPromoted | ParticipantCancelled
        ) -> None:
            readmodels.upsert_meeting(session, event.meeting)
            readmodels.set_participant(session, event.meeting.meeting_id, event.participant, status)
            email = meetings.participant_email(
                what,
                event.meeting,
                event.participant,
                links=links,
                organizer=organizer,
                sent_at=event.occurred_at,
            )
            record(session, event, [email], clock())

        return handle

    on_promoted = participant_event("promoted", "registered")
    on_participant_cancelled = participant_event("cancelled", "cancelled")
    registered = participant_event("registered", "registered")
    waiting = participant_event("waiting", "waiting")

    def on_registered(session: Session, event: ParticipantRegistered) -> None:
        (registered if event.status == "registered" else waiting)(session, event)

    def on_unsubscribed(session: Session, event: ContactUnsubscribed) -> None:
        readmodels.mark_unsubscribed(session, event.contact_id, event.email, event.occurred_at)

    def on_network_weeks(session: Session, event: NetworkWeeksSet) -> None:
        row = session.get(readmodels.NetworkWeeks, event.year) or readmodels.NetworkWeeks(year=event.year)
        row.weeks = ",".join(str(week) for week in sorted(set(event.weeks)))
        session.add(row)

    return {
        "meeting.scheduled": on_scheduled,
        "meeting.updated": on_updated,
        "meeting.cancelled": on_cancelled,
        "meeting.invitees_changed": on_invitees_changed,
        "participant.registered": on_registered,
        "participant.promoted": on_promoted,
        "participant.cancelled": on_participant_cancelled,
        "contact.unsubscribed": on_unsubscribed,
        "network_weeks.set": on_network_weeks,
    }
