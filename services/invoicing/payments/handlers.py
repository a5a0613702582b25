"""Use cases for money received: register a payment by hand, match one by hand, settle an invoice.

Each runs in one transaction: the payment rows, the invoice's new status, the
``invoice.paid`` event (outbox) and the audit entry commit together or not at
all. Bad input raises :class:`PaymentError` (Swedish) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvInvoice
from services.invoicing.ocr import valid_ocr
from services.invoicing.payments.ledger import ledger_for
from services.invoicing.payments.matching import (
    STATUS_LABELS,
    AmountError,
    becomes_settled,
    next_status,
    parse_amount,
    payment_status,
    reference_digits,
)
from services.invoicing.payments.models import InvPayment
from shared.audit import record_act
from shared.db import transaction
from shared.events import Address, InvoicePaid, OrganisationSnapshot
from shared.money import format_sek
from shared.outbox import add_event

log = structlog.get_logger(__name__)


class PaymentError(ValueError):
    """Refused input; the message is for finance, in Swedish."""


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: recorded in the audit log with every act."""

    name: str
    remote_addr: str = ""


def parse_date(text: str, what: str = "Betalningsdagen") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise PaymentError(f"{what} ska skrivas ÅÅÅÅ-MM-DD, t.ex. 2018-03-01.") from error


def organisation_of(document: InvoiceDocument) -> OrganisationSnapshot:
    buyer = document.buyer
    return OrganisationSnapshot(
        id=buyer.organisation_id, name=buyer.name, org_number=buyer.org_number,
        invoice_email=buyer.invoice_email,
        address=Address(street=buyer.street, postal_code=buyer.postal_code, city=buyer.city),
        buyer_reference=buyer.reference)


def _locked_invoice(session: Session, number: str) -> InvInvoice | None:
    """The invoice, its row locked (PostgreSQL), so concurrent payments settle it one at a time."""
    return session.exec(select(InvInvoice).where(InvInvoice.number == number).with_for_update()).first()


def settle(session: Session, invoice: InvInvoice, now: datetime, paid_before: Decimal) -> str:
    """Recompute the invoice's status from its payments; publish ``invoice.paid`` when it becomes paid.

    ``paid_before`` is what the invoice had received before this act: ``invoice.paid`` goes out
    when the payments reach what is due, whatever status another rule (a credit note) has set.
    """
    session.flush()
    ledger = ledger_for(session, invoice)
    after = next_status(invoice.status, ledger.total, ledger.credited, ledger.paid)
    if after != invoice.status:
        invoice.status = after
        session.add(invoice)
    was = payment_status(ledger.total, ledger.credited, paid_before).value
    now_is = payment_status(ledger.total, ledger.credited, ledger.paid).value
    if becomes_settled(was, now_is):
        assert invoice.id is not None
        last_paid_on = max(p.paid_on for p in session.exec(
            select(InvPayment).where(InvPayment.invoice_id == invoice.id)))
        add_event(session, InvoicePaid(
            occurred_at=now, correlation_id=invoice.correlation_id, number=invoice.number,
            organisation=organisation_of(InvoiceDocument.model_validate_json(invoice.document)),
            status="overpaid" if now_is == "overpaid" else "paid", total=ledger.total,
            paid_amount=ledger.paid, paid_on=last_paid_on))
    return after


def register_payment(engine: Engine, *, number: str, amount: str, paid_on: str, reference: str,
                     actor: Actor, now: datetime) -> InvPayment:
    """A payment finance enters by hand against an invoice."""
    try:
        value = parse_amount(amount)
    except AmountError as error:
        raise PaymentError(str(error)) from error
    day = parse_date(paid_on)
    reference = " ".join(reference.split())[:100]
    with transaction(engine) as session:
        invoice = _locked_invoice(session, number)
        if invoice is None or invoice.id is None:
            raise PaymentError(f"Fakturan {number} finns inte.")
        if invoice.kind != "invoice":
            raise PaymentError("En betalning registreras mot en faktura, inte mot en kreditfaktura.")
        digits = reference_digits(reference)
        if digits and valid_ocr(digits) and digits != invoice.ocr:
            # A valid OCR number that is not this invoice's: most likely the wrong invoice.
            owner = session.exec(select(InvInvoice.number).where(InvInvoice.ocr == digits)).first()
            if owner:
                raise PaymentError(f"OCR-numret {digits} hör till faktura {owner}, inte till {number}.")
            raise PaymentError(f"Okänt OCR-nummer {digits}: det hör inte till faktura {number}.")
        paid_before = ledger_for(session, invoice).paid
        payment = InvPayment(invoice_id=invoice.id, amount=value, paid_on=day, reference=reference,
                             source="manual", registered_by=actor.name, registered_at=now,
                             matched_by=actor.name, matched_at=now)
        session.add(payment)
        status = settle(session, invoice, now, paid_before)
        record_act(session, actor=actor.name, action="payment.register", subject=f"invoice:{number}",
                   detail=f"{format_sek(value)} betald {day.isoformat()}, referens ”{reference}”; "
                          f"status {STATUS_LABELS.get(status, status)}",
                   remote_addr=actor.remote_addr, at=now)
    log.info("payment registered", invoice=number, amount=str(value))
    return payment


def match_payment(engine: Engine, *, payment_id: int, number: str, actor: Actor, now: datetime,
                  amount: str = "") -> InvPayment:
    """Finance matches an unmatched payment to an invoice by hand.

    With ``amount`` less than the payment, only that part is matched (one payment
    for several invoices); the rest stays unmatched as a payment of its own.
    """
    number = number.strip()
    part: Decimal | None = None
    if amount.strip():
        try:
            part = parse_amount(amount)
        except AmountError as error:
            raise PaymentError(str(error)) from error
    with transaction(engine) as session:
        payment = session.exec(
            select(InvPayment).where(InvPayment.id == payment_id).with_for_update()).first()
        if payment is None:
            raise PaymentError("Betalningen finns inte.")
        if payment.invoice_id is not None:
            raise PaymentError("Betalningen är redan matchad mot en faktura.")
        invoice = _locked_invoice(session, number)
        if invoice is None or invoice.id is None:
            raise PaymentError(f"Fakturan {number or '(tom)'} finns inte.")
        if invoice.kind != "invoice":
            raise PaymentError("En betalning matchas mot en faktura, inte mot en kreditfaktura.")
        paid_before = ledger_for(session, invoice).paid
        if part is not None and part != payment.amount:
            if payment.amount <= 0 or part > payment.amount:
                raise PaymentError("Delbeloppet kan inte vara större än betalningen "
                                   f"({format_sek(payment.amount)}).")
            session.add(InvPayment(
                amount=payment.amount - part, paid_on=payment.paid_on, reference=payment.reference,
                source=payment.source, import_id=payment.import_id, payer=payment.payer,
                unmatched_reason=payment.unmatched_reason,
                note=f"Rest av betalning {format_sek(payment.amount)} som delvis matchats mot {number}",
                registered_by=actor.name, registered_at=now))
            payment.amount = part
        payment.invoice_id = invoice.id
        payment.matched_by = actor.name
        payment.matched_at = now
        session.add(payment)
        status = settle(session, invoice, now, paid_before)
        detail = (f"Betalning {format_sek(payment.amount)} ({payment.paid_on.isoformat()}, referens "
                  f"”{payment.reference}”) matchad för hand; status {STATUS_LABELS.get(status, status)}")
        record_act(session, actor=actor.name, action="payment.match", subject=f"invoice:{number}",
                   detail=detail, remote_addr=actor.remote_addr, at=now)
        record_act(session, actor=actor.name, action="payment.match", subject="payments",
                   detail=f"{detail} mot faktura {number}", remote_addr=actor.remote_addr, at=now)
    return payment


def unmatched_payments(session: Session) -> list[InvPayment]:
    return list(session.exec(select(InvPayment).where(col(InvPayment.invoice_id).is_(None))
                             .order_by(col(InvPayment.paid_on), col(InvPayment.id))))
