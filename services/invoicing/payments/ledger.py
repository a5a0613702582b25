"""What an invoice has received and what credit notes took back, read from invoicing's own tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from services.invoicing.credits import credit_notes_for as credit_notes_for
from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvInvoice
from services.invoicing.payments.matching import outstanding
from services.invoicing.payments.models import InvPayment


def payable_of(invoice: InvInvoice) -> Decimal:
    """What the buyer was asked to pay: the total plus any öresavrundning (the document's ``payable``)."""
    return InvoiceDocument.model_validate_json(invoice.document).payable


@dataclass(frozen=True)
class Ledger:
    total: Decimal  # what is payable, öresavrundning included
    credited: Decimal  # the credit notes' totals, negative
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return outstanding(self.total, self.credited, self.paid)


def credited_by_number(session: Session) -> dict[str, Decimal]:
    """Every credited invoice's number → the sum of its credit notes' (negative) payable amounts."""
    credited: dict[str, Decimal] = defaultdict(Decimal)
    for note in session.exec(select(InvInvoice).where(InvInvoice.kind == "credit_note")):
        credited_number = InvoiceDocument.model_validate_json(note.document).credited_number
        if credited_number:
            credited[credited_number] += payable_of(note)
    return dict(credited)


def paid_by_invoice(session: Session, invoice_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """Invoice id → what its payments add up to (summed here: SQLite's SUM would go through floats)."""
    query = select(InvPayment).where(col(InvPayment.invoice_id).is_not(None))
    if invoice_ids is not None:
        query = query.where(col(InvPayment.invoice_id).in_(list(invoice_ids)))
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for payment in session.exec(query):
        assert payment.invoice_id is not None
        paid[payment.invoice_id] += payment.amount
    return dict(paid)


def payments_for(session: Session, invoice_id: int) -> list[InvPayment]:
    return list(session.exec(select(InvPayment).where(InvPayment.invoice_id == invoice_id)
                             .order_by(col(InvPayment.paid_on), col(InvPayment.id))))


def ledger_for(session: Session, invoice: InvInvoice) -> Ledger:
    assert invoice.id is not None
    paid = sum((p.amount for p in payments_for(session, invoice.id)), Decimal(0))
    credited = sum((payable_of(note) for note in credit_notes_for(session, invoice)), Decimal(0))
    return Ledger(total=payable_of(invoice), credited=credited, paid=paid)
