"""Use cases for money received: register a payment, import a BgMax file, match a payment by hand.

Each runs in one transaction: the payment rows, the invoice's new status, the
``invoice.paid`` event (outbox) and the audit entry commit together or not at
all. Bad input raises :class:`PaymentError` (Swedish) before anything is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvInvoice
from services.invoicing.payments.bgmax import BgMaxError, BgMaxFile, parse_bgmax
from services.invoicing.payments.ledger import ledger_for
from services.invoicing.payments.matching import (
    STATUS_LABELS,
    AmountError,
    Match,
    becomes_settled,
    match_reference,
    next_status,
    parse_amount,
    reference_digits,
)
from services.invoicing.payments.models import InvPayment, InvPaymentImport
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


def settle(session: Session, invoice: InvInvoice, now: datetime) -> str:
    """Recompute the invoice's status from its payments; publish ``invoice.paid`` when it becomes paid."""
    session.flush()
    ledger = ledger_for(session, invoice)
    before = invoice.status
    after = next_status(before, ledger.total, ledger.credited, ledger.paid)
    if after != before:
        invoice.status = after
        session.add(invoice)
    if becomes_settled(before, after):
        assert invoice.id is not None
        last_paid_on = max(p.paid_on for p in session.exec(
            select(InvPayment).where(InvPayment.invoice_id == invoice.id)))
        add_event(session, InvoicePaid(
            occurred_at=now, correlation_id=invoice.correlation_id, number=invoice.number,
            organisation=organisation_of(InvoiceDocument.model_validate_json(invoice.document)),
            status="overpaid" if after == "overpaid" else "paid", total=invoice.total,
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
        payment = InvPayment(invoice_id=invoice.id, amount=value, paid_on=day, reference=reference,
                             source="manual", registered_by=actor.name, registered_at=now,
                             matched_by=actor.name, matched_at=now)
        session.add(payment)
        status = settle(session, invoice, now)
        record_act(session, actor=actor.name, action="payment.register", subject=f"invoice:{number}",
                   detail=f"{format_sek(value)} betald {day.isoformat()}, referens ”{reference}”; "
                          f"status {STATUS_LABELS.get(status, status)}",
                   remote_addr=actor.remote_addr, at=now)
    log.info("payment registered", invoice=number, amount=str(value))
    return payment


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    already_imported: bool
    payments: int = 0
    matched: int = 0
    unmatched: int = 0
    duplicates: int = 0
    total: Decimal = Decimal(0)


def _existing_import(engine: Engine, file_hash: str) -> ImportResult | None:
    with Session(engine) as session:
        found = session.exec(select(InvPaymentImport).where(InvPaymentImport.file_hash == file_hash)).first()
    if found is None or found.id is None:
        return None
    return ImportResult(import_id=found.id, already_imported=True, payments=found.payment_count,
                        matched=found.matched_count, duplicates=found.duplicate_count, total=found.total,
                        unmatched=found.payment_count - found.matched_count - found.duplicate_count)


def import_bgmax(engine: Engine, data: bytes, *, filename: str, actor: Actor, now: datetime,
                 receiver_bankgiro: str, allow_test: bool = False) -> ImportResult:
    """Read a BgMax file: every payment stored, those with a known OCR applied to their invoice.

    The same file again changes nothing (its hash is unique); a payment already
    imported from another file is skipped (its bank identity is unique). A
    malformed file raises :class:`PaymentError` and nothing is written.
    """
    file_hash = hashlib.sha256(data).hexdigest()
    existing = _existing_import(engine, file_hash)
    if existing is not None:
        return existing
    try:
        parsed = parse_bgmax(data, allow_test=allow_test)
    except BgMaxError as error:
        raise PaymentError(f"Filen lästes inte in: {error}") from error
    expected = "".join(ch for ch in receiver_bankgiro if ch.isdigit())
    for deposit in parsed.deposits:
        if deposit.receiver_bankgiro != expected:
            raise PaymentError(f"Filen lästes inte in: rad {deposit.line}: insättningen gäller bankgiro "
                               f"{deposit.receiver_bankgiro}, inte vårt ({receiver_bankgiro}).")
    for attempt in (1, 2):
        try:
            return _store_import(engine, parsed_file=parsed, file_hash=file_hash, filename=filename,
                                 actor=actor, now=now)
        except IntegrityError:
            # Another import committed first. The same file: that one counts. Another file holding
            # some of the same payments: try once more, and those payments are skipped as duplicates.
            existing = _existing_import(engine, file_hash)
            if existing is not None:
                return existing
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_import(engine: Engine, *, parsed_file: BgMaxFile, file_hash: str, filename: str, actor: Actor,
                  now: datetime) -> ImportResult:
    with transaction(engine) as session:
        batch = InvPaymentImport(file_hash=file_hash, filename=filename[:300],
                                 file_created_at=parsed_file.created_at, payment_count=0, matched_count=0,
                                 total=Decimal(0),
                                 imported_by=actor.name, imported_at=now)
        session.add(batch)
        session.flush()
        assert batch.id is not None
        matched = duplicates = unmatched = 0
        total = Decimal(0)
        touched: dict[str, InvInvoice] = {}
        for deposit, bank_payment in parsed_file.payments:
            assert deposit.payment_date is not None
            identity = f"{deposit.receiver_bankgiro}:{deposit.payment_date:%Y%m%d}:{bank_payment.bgc_serial}"
            if session.exec(select(InvPayment.id).where(InvPayment.bank_identity == identity)).first():
                duplicates += 1
                continue
            invoice_by_ocr = _invoice_by_ocr(session, bank_payment.reference)
            match = match_reference(bank_payment.reference, {k: v.number for k, v in invoice_by_ocr.items()})
            extra = [reference for reference, _amount in bank_payment.extra_references]
            if extra:
                # One payment for several invoices: booking it all on the first would overpay that
                # one and leave the others unpaid, so finance decides.
                match = Match(None, "Betalningen har flera referenser (" + ", ".join(
                    [bank_payment.reference, *extra])[:200] + "); matcha för hand")
            invoice = (invoice_by_ocr[reference_digits(bank_payment.reference)]
                       if match.invoice_number else None)
            session.add(InvPayment(
                invoice_id=invoice.id if invoice else None, amount=bank_payment.amount,
                paid_on=deposit.payment_date, reference=bank_payment.reference[:100], source="bgmax",
                import_id=batch.id, bank_identity=identity, payer=bank_payment.payer_name[:300],
                unmatched_reason=match.reason, note="; ".join(bank_payment.information),
                registered_by=actor.name, registered_at=now,
                matched_by="OCR" if invoice else "", matched_at=now if invoice else None))
            total += bank_payment.amount
            if invoice is not None:
                matched += 1
                touched[invoice.number] = invoice
            else:
                unmatched += 1
        for invoice in touched.values():
            settle(session, invoice, now)
        batch.payment_count = matched + unmatched + duplicates
        batch.matched_count = matched
        batch.duplicate_count = duplicates
        batch.total = total
        session.add(batch)
        record_act(session, actor=actor.name, action="payment.import", subject="payments",
                   detail=f"BgMax-fil ”{filename}”: {matched} matchade, {unmatched} att matcha, "
                          f"{duplicates} redan inlästa, summa {format_sek(total)}",
                   remote_addr=actor.remote_addr, at=now)
        for number in touched:
            record_act(session, actor=actor.name, action="payment.import", subject=f"invoice:{number}",
                       detail=f"Betalning från BgMax-fil ”{filename}” matchad på OCR",
                       remote_addr=actor.remote_addr, at=now)
    log.info("bgmax imported", file=filename, matched=matched, unmatched=unmatched, duplicates=duplicates)
    return ImportResult(import_id=batch.id, already_imported=False, payments=matched + unmatched + duplicates,
                        matched=matched, unmatched=unmatched, duplicates=duplicates, total=total)


def _invoice_by_ocr(session: Session, reference: str) -> dict[str, InvInvoice]:
    digits = reference_digits(reference)
    if not digits:
        return {}
    invoice = session.exec(select(InvInvoice).where(InvInvoice.ocr == digits, InvInvoice.kind == "invoice")
                           .with_for_update()).first()
    return {digits: invoice} if invoice else {}


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
        status = settle(session, invoice, now)
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


def recent_imports(session: Session, limit: int = 20) -> list[InvPaymentImport]:
    return list(session.exec(select(InvPaymentImport).order_by(col(InvPaymentImport.id).desc()).limit(limit)))
