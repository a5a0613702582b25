"""Notifications' part of GDPR: the email log's rows to the person are anonymised on ``person.erased``.

The recipient becomes an undeliverable ``raderad-…@raderad.invalid`` (unique per
erasure, so the log's one-email-per-(event, recipient) rule holds), the
stored message (body and attachments) and the subject are removed, and an
email still queued is failed instead of sent. The row itself stays: the log
still shows that an email went out, when, and why (the source event).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.notifications.domain import EmailStatus
from services.notifications.models import Email
from shared.privacy import Erasure, Outcome, PrivacyRegistry, erased_address

ERASED = "Raderad på begäran (GDPR)"


def _emails(session: Session, email: str) -> list[Email]:
    return list(session.exec(select(Email).where(func.lower(Email.recipient) == email)
                             .order_by(col(Email.id))).all())


def export_emails(session: Session, email: str) -> list[dict[str, Any]]:
    return [{"id": e.id, "kind": e.kind, "recipient": e.recipient, "subject": e.subject, "status": e.status,
             "created_at": e.created_at.isoformat(), "sent_at": e.sent_at.isoformat() if e.sent_at else None,
             "message": e.raw.decode("utf-8", errors="replace")} for e in _emails(session, email)]


def anonymise_emails(session: Session, erasure: Erasure) -> Outcome:
    rows = _emails(session, erasure.email)
    for row in rows:
        row.recipient = erased_address(erasure.erasure_id)
        row.subject = ERASED
        row.raw = b""
        if row.status == EmailStatus.queued.value:
            row.status, row.last_error, row.claimed_by = EmailStatus.failed.value, ERASED, None
        session.add(row)
    return Outcome(erased=len(rows))


def notifications_privacy() -> PrivacyRegistry:
    registry = PrivacyRegistry("notifications")
    registry.register("emails", export=export_emails, erase=anonymise_emails)
    return registry
