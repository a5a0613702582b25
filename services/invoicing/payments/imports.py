"""Importing Bankgirot's BgMax file: every payment stored, those with a known OCR booked on their invoice.

One transaction per file: the import row (its hash unique), the payments (each
bank identity unique), the invoices' new statuses, ``invoice.paid`` events and
the audit entries. A malformed file raises :class:`PaymentError` before anything
is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.invoicing.models import InvInvoice
from services.invoicing.payments.bgmax import BgMaxError, BgMaxFile, parse_bgmax
from services.invoicing.payments.handlers import Actor, PaymentError, settle
from services.invoicing.payments.ledger import ledger_for
from services.invoicing.payments.matching import Match, match_reference, reference_digits
from services.invoicing.payments.models import InvPayment, InvPaymentImport
from shared.audit import record_act
from shared.db import transaction
from shared.digits import only_digits
from shared.money import format_sek

log = structlog.get_logger(__name__)


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
    expected = only_digits(receiver_bankgiro)
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
        paid_before: dict[str, Decimal] = {}
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
            if invoice is not None and invoice.number not in paid_before:
                paid_before[invoice.number] = ledger_for(session, invoice).paid
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
        for number, invoice in touched.items():
            settle(session, invoice, now, paid_before[number])
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


def recent_payments(session: Session, limit: int = 50) -> list[tuple[InvPayment, str]]:
    """The latest payments booked on an invoice, newest first, with the invoice's number."""
    rows = session.exec(select(InvPayment, InvInvoice.number)
                        .join(InvInvoice, col(InvInvoice.id) == col(InvPayment.invoice_id))
                        .order_by(col(InvPayment.id).desc()).limit(limit))
    return [(payment, number) for payment, number in rows]


def recent_imports(session: Session, limit: int = 20) -> list[InvPaymentImport]:
    return list(session.exec(select(InvPaymentImport).order_by(col(InvPaymentImport.id).desc()).limit(limit)))
