"""Reading invoices and fee decisions for the API and the finance pages (read-only by design)."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvFeeDecision, InvInvoice, InvInvoicePdf
from shared.digits import only_digits


def list_invoices(session: Session, *, org_number: str | None = None, newest_first: bool = False,
                  limit: int | None = None, offset: int = 0) -> list[InvInvoice]:
    query = select(InvInvoice)
    if org_number:
        query = query.where(InvInvoice.buyer_org_digits == only_digits(org_number))
    order = col(InvInvoice.id).desc() if newest_first else col(InvInvoice.id)
    query = query.order_by(order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def count_invoices(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(InvInvoice)).one())


def get_invoice(session: Session, number: str) -> InvInvoice | None:
    return session.exec(select(InvInvoice).where(InvInvoice.number == number)).first()


def get_pdf(session: Session, number: str) -> bytes | None:
    pdf = session.exec(
        select(InvInvoicePdf.pdf).join(InvInvoice, col(InvInvoice.id) == col(InvInvoicePdf.invoice_id))
        .where(InvInvoice.number == number)
    ).first()
    return bytes(pdf) if pdf is not None else None


def document_of(invoice: InvInvoice) -> InvoiceDocument:
    return InvoiceDocument.model_validate_json(invoice.document)


def decision_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(InvFeeDecision.outcome, func.count()).group_by(col(InvFeeDecision.outcome))
    ).all()
    return {outcome: int(count) for outcome, count in rows}


def list_decisions(session: Session, *, outcome: str | None = None, limit: int = 500) -> list[InvFeeDecision]:
    query = select(InvFeeDecision)
    if outcome:
        query = query.where(InvFeeDecision.outcome == outcome)
    return list(session.exec(query.order_by(col(InvFeeDecision.id).desc()).limit(limit)))
