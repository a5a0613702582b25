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
from services.notifications.readmodels import InviteeView, InvoiceView, ParticipantView, UnsubscribedContact
from services.notifications.reminders.models import LedgerStatus, ReminderEntry
from shared.privacy import ERASED_NAME, Erasure, Outcome, PrivacyRegistry, erased_address

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


CLAIM = "underlag för betalningspåminnelse om obetald faktura (fordran; fakturan sparas 7 år)"


def _people(model: Any) -> tuple[Any, Any]:
    """(export, erase) for a read model with ``email`` and maybe ``name``: anonymised in place."""

    def rows(session: Session, email: str) -> list[Any]:
        return list(session.exec(select(model).where(func.lower(model.email) == email)).all())

    def export(session: Session, email: str) -> list[dict[str, Any]]:
        return [row.model_dump(mode="json") for row in rows(session, email)]

    def erase(session: Session, erasure: Erasure) -> Outcome:
        found = rows(session, erasure.email)
        for row in found:
            row.email = erased_address(erasure.erasure_id)
            if hasattr(row, "name"):
                row.name = ERASED_NAME
            session.add(row)
        return Outcome(erased=len(found))

    return export, erase


def export_invoices(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(select(InvoiceView).where(func.lower(InvoiceView.email) == email)).all()
    return [{**row.model_dump(mode="json"), "kept_because": CLAIM} for row in rows]


def keep_invoices(session: Session, erasure: Erasure) -> Outcome:
    rows = session.exec(select(InvoiceView).where(func.lower(InvoiceView.email) == erasure.email)).all()
    return Outcome(kept=len(rows), kept_because=CLAIM)


def export_reminders(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(select(ReminderEntry).where(func.lower(ReminderEntry.recipient) == email)).all()
    return [row.model_dump(mode="json") for row in rows]


def erase_reminders(session: Session, erasure: Erasure) -> Outcome:
    """The ledger rows say a reminder was due or sent, not to whom; a pending one is skipped."""
    rows = session.exec(select(ReminderEntry).where(
        func.lower(ReminderEntry.recipient) == erasure.email)).all()
    for row in rows:
        row.recipient, row.recipient_name = erased_address(erasure.erasure_id), ""
        if row.status == LedgerStatus.pending.value:
            row.status, row.note = LedgerStatus.skipped.value, ERASED
        session.add(row)
    return Outcome(erased=len(rows))


def notifications_privacy() -> PrivacyRegistry:
    registry = PrivacyRegistry("notifications")
    registry.register("emails", export=export_emails, erase=anonymise_emails)
    for name, model in (("invitees", InviteeView), ("participants", ParticipantView),
                        ("unsubscribed", UnsubscribedContact)):
        export, erase = _people(model)
        registry.register(name, export=export, erase=erase)
    registry.register("invoices", export=export_invoices, erase=keep_invoices)
    registry.register("reminders", export=export_reminders, erase=erase_reminders)
    return registry
