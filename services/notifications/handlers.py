"""Event handlers: record the emails an event calls for, inside the consumer's transaction.

Nothing is sent here. The rows commit together with the consumer's
``processed_event`` mark, so an event is turned into emails exactly once; the
sender picks the rows up afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from sqlmodel import Session

from services.notifications import alerts, domain, invoices
from services.notifications.domain import EmailStatus, OutgoingEmail
from services.notifications.meeting_handlers import make_meeting_handlers
from services.notifications.models import ERROR_LENGTH, Email
from services.notifications.settings import NotificationsSettings
from shared.consumer import EventHandler
from shared.events import DeadLetterRecorded, EventBase, InvoiceIssued, SignupCompleted, utc_now

log = structlog.get_logger(__name__)


_INSERT_EMAIL = Email.__table__.insert()  # type: ignore[attr-defined]


def record_emails(session: Session, event: EventBase, emails: Iterable[OutgoingEmail], *,
                  sender: str, now: datetime) -> list[Email]:
    """Render and store each email as ``queued``; one that cannot be rendered is stored as ``failed``.

    Returns the failed rows (with their ids, for the staff alert). Queued rows
    go in as one plain INSERT: nothing reads them back in this transaction, and
    an ORM object and flush per email cost a seventh of the service's CPU.
    """
    queued: list[dict[str, object]] = []
    failed: list[Email] = []
    event_id = str(event.event_id)
    event_type: str = event.type  # type: ignore[attr-defined]
    for outgoing in emails:
        try:
            rendered = domain.render(outgoing, sender=sender, event_id=event_id, date=event.occurred_at)
        except ValueError as error:
            # A bad address in the event: keep a visible trace for staff instead of
            # failing the whole event (which would leave it pending for ever).
            recipient = domain.one_line(outgoing.to_address, limit=320)
            failed.append(Email(kind=outgoing.kind.value, recipient=recipient, envelope_from="",
                                subject=domain.one_line(outgoing.subject, limit=500), message_id="",
                                source_event_id=event_id, source_event_type=event_type,
                                correlation_id=event.correlation_id, status=EmailStatus.failed.value,
                                last_error=str(error)[:ERROR_LENGTH], created_at=now, next_attempt_at=now,
                                raw=b""))
            log.error("email cannot be sent", kind=outgoing.kind.value, recipient=recipient,
                      error=str(error), event_id=event_id, correlation_id=event.correlation_id)
        else:
            queued.append({
                "kind": outgoing.kind.value, "recipient": rendered.recipient,
                "envelope_from": rendered.envelope_from, "subject": rendered.subject,
                "message_id": rendered.message_id, "source_event_id": event_id,
                "source_event_type": event_type, "correlation_id": event.correlation_id,
                "status": EmailStatus.queued.value, "attempts": 0, "last_error": None,
                "next_attempt_at": now, "claimed_by": None, "created_at": now, "sent_at": None,
                "raw": rendered.raw,
            })
    if queued:
        session.connection().execute(_INSERT_EMAIL, queued)
        # One line per event, not per email: at full load this runs hundreds of times a second.
        log.info("emails queued", count=len(queued), recipients=[row["recipient"] for row in queued],
                 kinds=[row["kind"] for row in queued], event_id=event_id,
                 correlation_id=event.correlation_id)
    session.add_all(failed)
    return failed


def make_handlers(settings: NotificationsSettings,
                  clock: Callable[[], datetime] = utc_now) -> dict[str, EventHandler]:
    """The handlers by event type, bound to this service's settings."""

    def tell_staff_of_failures(session: Session, failed: list[Email], now: datetime) -> None:
        """An email that cannot even be built is failed from the start: staff are told at once."""
        if failed:
            session.flush()  # the alert names the email by its id
            alert = alerts.failure_alert(failed, staff_email=settings.staff_email,
                                         sender=settings.mail_from, now=now)
            if alert is not None:
                session.add(alert)

    def record_and_alert(session: Session, event: EventBase, emails: list[OutgoingEmail],
                         now: datetime) -> None:
        failed = record_emails(session, event, emails, sender=settings.mail_from, now=now)
        tell_staff_of_failures(session, failed, now)

    def on_signup_completed(session: Session, event: SignupCompleted) -> None:
        now = clock()
        failed = record_emails(session, event, domain.signup_emails(event), sender=settings.mail_from,
                               now=now)
        tell_staff_of_failures(session, failed, now)

    def on_invoice_issued(session: Session, event: InvoiceIssued) -> None:
        now = clock()
        failed = record_emails(session, event,
                               domain.invoice_emails(event, finance_email=settings.finance_email),
                               sender=settings.mail_from, now=now)
        tell_staff_of_failures(session, failed, now)
        invoices.on_issued(session, event)

    def on_dead_letter_recorded(session: Session, event: DeadLetterRecorded) -> None:
        # Once per event id: the consumer's processed_event mark and the log's unique
        # (event, recipient) make a redelivered or re-dead-lettered entry one email.
        record_emails(session, event, alerts.dead_letter_emails(event, staff_email=settings.staff_email),
                      sender=settings.mail_from, now=clock())
        invoices.on_dead_letter(session, event)

    return {"signup.completed": on_signup_completed, "invoice.issued": on_invoice_issued,
            "invoice.overdue": invoices.on_overdue, "invoice.paid": invoices.on_paid,
            "dead_letter.recorded": on_dead_letter_recorded,
            **make_meeting_handlers(settings, clock, record_and_alert)}
