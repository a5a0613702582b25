"""Notifications' read model of invoices, for payment reminders and the staff digest.

``invoice.issued`` adds an invoice (a credit note marks the invoice it credits),
``invoice.overdue`` marks it overdue with what is outstanding, ``invoice.paid``
marks it paid. Payment reminders go only to overdue invoices neither paid nor
credited (see reminders/rules.py), so a paid or credited invoice's address is
cleared. Dead letters are kept too, for the digest.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session

from services.notifications.readmodels import DeadLetterSeen, InvoiceView
from shared.events import (
    DeadLetterRecorded,
    InvoiceIssued,
    InvoiceOverdue,
    InvoicePaid,
    OrganisationSnapshot,
)

# The invoice address is kept only while a payment reminder may still go to it (GDPR: no longer
# than needed); a paid or credited invoice is never reminded. Invoicing keeps the invoice itself.
SETTLED = ""


def _row(session: Session, number: str, organisation: OrganisationSnapshot, due_date: date,
         total: Decimal = Decimal("0.00")) -> InvoiceView:
    """The invoice's row; a new one when the invoice came before notifications kept invoices."""
    return session.get(InvoiceView, number) or InvoiceView(
        number=number, organisation=organisation.name, email=organisation.invoice_email, due_date=due_date,
        total=total)


def on_issued(session: Session, event: InvoiceIssued) -> None:
    if event.kind == "credit_note":
        if event.credited_number:
            credited = _row(session, event.credited_number, event.organisation, event.due_date)
            credited.credited, credited.email = True, SETTLED
            session.add(credited)
        return
    if session.get(InvoiceView, event.number) is None:
        session.add(
            InvoiceView(
                number=event.number,
                organisation=event.organisation.name,
                email=event.organisation.invoice_email,
                due_date=event.due_date,
                ocr=event.ocr,
                total=event.total,
                outstanding=event.total,
            )
        )


def on_overdue(session: Session, event: InvoiceOverdue) -> None:
    row = _row(session, event.number, event.organisation, event.due_date)
    if row.overdue_as_of is not None and row.overdue_as_of > event.as_of:
        return  # an older day's report
    row.organisation = event.organisation.name
    row.email = SETTLED if row.paid or row.credited else event.organisation.invoice_email
    row.due_date, row.ocr, row.total = event.due_date, event.ocr, event.total
    row.outstanding, row.overdue_as_of = event.outstanding, event.as_of
    session.add(row)


def on_paid(session: Session, event: InvoicePaid) -> None:
    row = _row(session, event.number, event.organisation, event.paid_on, total=event.total)
    row.paid, row.email = True, SETTLED
    row.outstanding = max(row.total - event.paid_amount, 0 * row.total)
    session.add(row)


def on_dead_letter(session: Session, event: DeadLetterRecorded) -> None:
    if session.get(DeadLetterSeen, event.dead_letter_id) is None:
        session.add(
            DeadLetterSeen(
                dead_letter_id=event.dead_letter_id,
                recorded_at=event.occurred_at,
                source_stream=event.source_stream,
                group=event.group,
                event_type=event.event_type,
                error=event.error[:2000],
            )
        )
