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
    EmailKind.meeting_invitation.value: "Inbjudan till möte",
    EmailKind.meeting_updated.value: "Ändrat möte",
    EmailKind.meeting_cancelled.value: "Inställt möte",
    EmailKind.participant_registered.value: "Bekräftad mötesanmälan",
    EmailKind.participant_waiting.value: "Plats på väntelista",
    EmailKind.participant_promoted.value: "Plats från väntelistan",
    EmailKind.participant_cancelled.value: "Avbokad mötesanmälan",
    EmailKind.meeting_reminder.value: "Påminnelse om möte",
    EmailKind.invitation_reminder.value: "Påminnelse om inbjudan",
    EmailKind.payment_reminder.value: "Betalningspåminnelse",
    EmailKind.staff_digest.value: "Veckosammanställning (till kansliet)",
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


LISTED_IN_ALERT = 50
FAILED_EMAIL_COLUMNS = ("id", "kind", "recipient", "subject", "message_id", "attempts", "last_error",
                        "source_event_type", "source_event_id", "correlation_id")


def dead_letter_emails(event: DeadLetterRecorded, *, staff_email: str) -> list[OutgoingEmail]:
    what = event.event_type or "oläsbar händelse"
    return [OutgoingEmail(
        kind=EmailKind.dead_letter_alert, to_address=staff_email, to_name="Reglabs kansli",
        subject=f"Dött meddelande i {event.group}: {what}",
        text=domain.render_template("dead_letter_alert.txt", {"event": event}),
    )]


def mail_failed_email(failed: list[FailedEmail], *, staff_email: str) -> OutgoingEmail:
    """One email to staff about every email in ``failed`` (those of one batch or one event)."""
    subject = (f"E-post kunde inte levereras till {domain.one_line(failed[0].recipient, 100)}"
               if len(failed) == 1 else f"{len(failed)} e-postmeddelanden kunde inte levereras")
    return OutgoingEmail(
        kind=EmailKind.mail_failed_alert, to_address=staff_email, to_name="Reglabs kansli", subject=subject,
        text=domain.render_template("mail_failed_alert.txt", {
            "emails": failed[:LISTED_IN_ALERT], "more": max(0, len(failed) - LISTED_IN_ALERT),
            "kinds": KIND_LABELS,
        }),
    )


def failure_alert(failed: Iterable[FailedEmail], *, staff_email: str, sender: str,
                  now: datetime) -> Email | None:
    """The one queued alert about these failed emails, None if there is nothing to tell.

    One alert per batch, not per email: an SMTP outage that fails hundreds of
    emails at the ceiling tells staff in a few emails, not hundreds. Failed
    alerts are left out (no alert about an alert). The alert's identity comes
    from the emails and the moment they failed, so an email sent again by staff
    and failing again is reported again. Add it in the caller's transaction.
    """
    told: list[FailedEmail] = []
    for email in failed:
        if email.kind in STAFF_ALERT_KINDS:
            log.error("staff alert failed; no further alert is raised", email_id=email.id,
                      recipient=email.recipient, error=email.last_error)
        else:
            told.append(email)
    if not told:
        return None
    ids = ",".join(str(email.id) for email in told)
    alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{MAIL_FAILED_TYPE}|{ids}|{now.isoformat()}")
    try:
        rendered = domain.render(mail_failed_email(told, staff_email=staff_email), sender=sender,
                                 event_id=alert_id, date=now)
    except ValueError as error:
        log.error("cannot alert staff: STAFF_EMAIL or MAIL_FROM is no address", error=str(error))
        return None
    correlations = {email.correlation_id for email in told}
    log.warning("staff told of failed emails", email_ids=ids, count=len(told))
    return Email(
        kind=rendered.kind.value, recipient=rendered.recipient, envelope_from=rendered.envelope_from,
        subject=rendered.subject, message_id=rendered.message_id, source_event_id=str(alert_id),
        source_event_type=MAIL_FAILED_TYPE,
        correlation_id=correlations.pop() if len(correlations) == 1 else f"{MAIL_FAILED_TYPE}-{alert_id}",
        status=EmailStatus.queued.value, created_at=now, next_attempt_at=now, raw=rendered.raw)


def record_failure_alert(connection: Connection, email_ids: list[int], *, staff_email: str, sender: str,
                         now: datetime) -> bool:
    """In the sender's transaction: queue one alert about the emails it has just marked failed."""
    if not email_ids:
        return False
    table = Email.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in FAILED_EMAIL_COLUMNS]
    failed = connection.execute(
        select(*columns).where(table.c.id.in_(email_ids)).order_by(table.c.id)).all()
    alert = failure_alert(failed, staff_email=staff_email, sender=sender, now=now)
    if alert is None:
        return False
    connection.execute(insert(table).values({column.name: getattr(alert, column.name)
                                             for column in table.columns if column.name != "id"}))
    return True
