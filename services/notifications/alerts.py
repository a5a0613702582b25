"""Staff alerts: an email to STAFF_EMAIL when a dead letter is recorded or an email fails for good.

Alerts are rows in the email log like any other email, recorded in the same
transaction as their cause, so each goes out once and is retried like the
rest. A dead letter is reported from its ``dead_letter.recorded`` event (one
email per event id). A failed email is reported by whoever marks it failed:
the sender at the attempt ceiling, or the event handler when a message cannot
even be built. An alert that itself fails raises no further alert, so a
broken STAFF_EMAIL cannot start a loop; it stays in the log as failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import structlog
from sqlalchemy import Connection, insert, select

from services.notifications import domain
from services.notifications.domain import EmailKind, EmailStatus, OutgoingEmail
from services.notifications.models import Email
from shared.events import DeadLetterRecorded

log = structlog.get_logger(__name__)

STAFF_ALERT_KINDS = frozenset({EmailKind.dead_letter_alert.value, EmailKind.mail_failed_alert.value})
MAIL_FAILED_TYPE = "email.failed"
# Fixed: an alert's identity (and Message-ID) must not depend on the instance.
ALERT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "alerts.notifications.reglab-natverk")
KIND_LABELS = {
    EmailKind.signup_confirmation.value: "Bekräftelse av anmälan",
    EmailKind.invoice.value: "Faktura",
    EmailKind.invoice_copy.value: "Fakturakopia till ekonomi",
    EmailKind.dead_letter_alert.value: "Dött meddelande (till kansliet)",
    EmailKind.mail_failed_alert.value: "Misslyckad e-post (till kansliet)",
}


class FailedEmail(Protocol):
    """What an alert says about a failed email: an ``Email`` row, or a row selected from its table."""

    @property
    def id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def source_event_type(self) -> str: ...
    @property
    def source_event_id(self) -> str: ...
    @property
    def correlation_id(self) -> str: ...


FAILED_EMAIL_COLUMNS = ("id", "kind", "recipient", "subject", "message_id", "attempts", "last_error",
                        "source_event_type", "source_event_id", "correlation_id")


def dead_letter_emails(event: DeadLetterRecorded, *, staff_email: str) -> list[OutgoingEmail]:
    what = event.event_type or "oläsbar händelse"
    return [OutgoingEmail(
        kind=EmailKind.dead_letter_alert, to_address=staff_email, to_name="Reglabs kansli",
        subject=f"Dött meddelande i {event.group}: {what}",
        text=domain.render_template("dead_letter_alert.txt", {"event": event}),
    )]


def mail_failed_email(failed: FailedEmail, *, staff_email: str) -> OutgoingEmail:
    return OutgoingEmail(
        kind=EmailKind.mail_failed_alert, to_address=staff_email, to_name="Reglabs kansli",
        subject=f"E-post kunde inte levereras till {domain.one_line(failed.recipient, 100)}",
        text=domain.render_template("mail_failed_alert.txt", {
            "email": failed, "kind": KIND_LABELS.get(failed.kind, failed.kind),
            # A message that could not be built has no Message-ID and nothing to send again.
            "resendable": bool(failed.message_id),
        }),
    )


def failure_alerts(failed: Iterable[FailedEmail], *, staff_email: str, sender: str,
                   now: datetime) -> list[Email]:
    """One queued alert per failed email, except for failed alerts; add them in the caller's transaction.

    The alert's identity comes from the email and the moment it failed, so an
    email sent again by staff and failing again is reported again.
    """
    alerts: list[Email] = []
    for email in failed:
        if email.kind in STAFF_ALERT_KINDS:
            log.error("staff alert failed; no further alert is raised", email_id=email.id,
                      recipient=email.recipient, error=email.last_error)
            continue
        alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{MAIL_FAILED_TYPE}|{email.id}|{now.isoformat()}")
        try:
            rendered = domain.render(mail_failed_email(email, staff_email=staff_email), sender=sender,
                                     event_id=alert_id, date=now)
        except ValueError as error:
            log.error("cannot alert staff: STAFF_EMAIL or MAIL_FROM is no address", error=str(error))
            continue
        alerts.append(Email(
            kind=rendered.kind.value, recipient=rendered.recipient, envelope_from=rendered.envelope_from,
            subject=rendered.subject, message_id=rendered.message_id, source_event_id=str(alert_id),
            source_event_type=MAIL_FAILED_TYPE, correlation_id=email.correlation_id,
            status=EmailStatus.queued.value, created_at=now, next_attempt_at=now, raw=rendered.raw))
        log.warning("staff told of a failed email", email_id=email.id, recipient=email.recipient,
                    attempts=email.attempts)
    return alerts


def record_failure_alerts(connection: Connection, email_ids: list[int], *, staff_email: str, sender: str,
                          now: datetime) -> int:
    """In the sender's transaction: queue an alert for each email it has just marked failed."""
    if not email_ids:
        return 0
    table = Email.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in FAILED_EMAIL_COLUMNS]
    failed = connection.execute(select(*columns).where(table.c.id.in_(email_ids))).all()
    alerts = failure_alerts(failed, staff_email=staff_email, sender=sender, now=now)
    for alert in alerts:
        connection.execute(insert(table).values({column.name: getattr(alert, column.name)
                                                 for column in table.columns if column.name != "id"}))
    return len(alerts)
