"""Credit notes: for a cancelled membership, for a whole invoice, and the reissue of an invoice.

An issued invoice is never changed or deleted: a correction is a credit note
(its own number from the same gap-free series, referring to the original,
the credited lines negated), and for a reissue a new invoice with the
corrected buyer. Each use case runs in one transaction with the
``invoice.issued`` events it causes (the outbox), holding the series lock
that also serialises sign-up invoicing, so a cancellation and the sign-up it
concerns never race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import structlog
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.invoicing.credit_rules import (
    REISSUE_SOURCE,
    BuyerCorrection,
    CancellationOutcome,
    CreditRefused,
    cancellation_outcome,
    correction_problems,
    credit_note_document,
    open_lines,
    reissued_document,
)
from services.invoicing.document import Buyer, DocumentLine, InvoiceDocument
from services.invoicing.domain import series_for
from services.invoicing.handlers import (
    InvoicingContext,
    issued_event,
    store_document,
    store_lines,
)
from services.invoicing.models import (
    InvCreditLine,
    InvFeeDecision,
    InvInvoice,
    InvInvoiceLine,
    InvMembershipCancellation,
    InvNumberSeries,
)
from services.invoicing.numbering import lock_series, take_number
from services.invoicing.queries import document_of, get_invoice
from shared.audit import record_act
from shared.consumer import EventHandler
from shared.digits import only_digits
from shared.events import Address, MembershipCancelled, OrganisationSnapshot
from shared.outbox import add_event

log = structlog.get_logger(__name__)

CREDITED = "credited"
PARTLY_CREDITED = "partly_credited"


class InvoiceNotFound(LookupError):
    def __init__(self, number: str) -> None:
        super().__init__(f"Fakturan {number} finns inte.")


class CorrectionInvalid(ValueError):
    """A reissue's corrected details do not pass; one Swedish message per field."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class Today:
    """The moment of a use case and the locked number series for its issue date."""

    now: datetime
    issue_date: date
    counter: InvNumberSeries

    @classmethod
    def of(cls, session: Session, context: InvoicingContext) -> Today:
        now = context.clock()
        issue_date = now.astimezone(context.timezone).date()
        # The same lock as sign-up invoicing: decisions, lines and numbers change one at a time.
        return cls(now, issue_date, lock_series(session, series_for(issue_date)))


def snapshot_of(buyer: Buyer) -> OrganisationSnapshot:
    """The buyer as events carry it (organisationsnummer as ten digits, as registration sends it)."""
    return OrganisationSnapshot(
        id=buyer.organisation_id, name=buyer.name, org_number=only_digits(buyer.org_number),
        invoice_email=buyer.invoice_email,
        address=Address(street=buyer.street, postal_code=buyer.postal_code, city=buyer.city),
        buyer_reference=buyer.reference)


# --- Reading the ledger ---

def credited_line_ids(session: Session, invoice_id: int) -> set[int]:
    return set(session.exec(select(InvCreditLine.credited_line_id)
                            .where(InvCreditLine.original_invoice_id == invoice_id)))


def invoice_lines(session: Session, invoice_id: int) -> list[InvInvoiceLine]:
    return list(session.exec(select(InvInvoiceLine).where(InvInvoiceLine.invoice_id == invoice_id)
                             .order_by(col(InvInvoiceLine.position))))


def credit_notes_for(session: Session, invoice: InvInvoice) -> list[InvInvoice]:
    """The credit notes that credit lines of ``invoice``, oldest first (for the invoice page)."""
    ids = select(InvCreditLine.credit_note_id).where(InvCreditLine.original_invoice_id == invoice.id)
    return list(session.exec(select(InvInvoice).where(col(InvInvoice.id).in_(ids))
                             .order_by(col(InvInvoice.id))))


# --- Issuing a credit note ---

def issue_credit_note(session: Session, context: InvoicingContext, today: Today, original: InvInvoice,
                      lines: Sequence[InvInvoiceLine], *, correlation_id: str,
                      source_event_id: str) -> InvInvoice:
    """Credit ``lines`` of ``original``: the credit note, its lines, the original's status, the event."""
    assert original.id is not None
    document = document_of(original)
    wanted = {line.membership_id for line in lines}
    sequence, number = take_number(session, today.counter)
    credit = credit_note_document(
        number=number, issue_date=today.issue_date, seller=context.seller, original=document,
        lines=[line for line in document.lines if line.membership_id in wanted],
        round_to_krona=context.round_to_krona)
    pdf = context.render_pdf(credit)
    note = store_document(session, credit, today.counter.series, sequence, pdf, today.now,
                          signup_id=original.signup_id, source_event_id=source_event_id,
                          correlation_id=correlation_id)
    amounts = {line.membership_id: line.amount for line in credit.lines}
    assert note.id is not None
    for line in lines:
        assert line.id is not None
        # UNIQUE(credited_line_id): a line credited twice fails here and rolls everything back.
        session.add(InvCreditLine(credit_note_id=note.id, credited_line_id=line.id,
                                  original_invoice_id=original.id, membership_id=line.membership_id,
                                  amount=amounts[line.membership_id]))
    session.flush()
    remaining = len(invoice_lines(session, original.id)) - len(credited_line_ids(session, original.id))
    original.status = CREDITED if remaining == 0 else PARTLY_CREDITED
    session.add(original)
    add_event(session, issued_event(credit, pdf, today.now, correlation_id=correlation_id,
                                    signup_id=original.signup_id, organisation=snapshot_of(credit.buyer)))
    log.info("credit note issued", number=number, credits=original.number, lines=len(lines),
             correlation_id=correlation_id)
    return note


def _open_invoice(session: Session, number: str) -> tuple[InvInvoice, list[InvInvoiceLine]]:
    """An invoice and its lines not credited yet; refuses credit notes and fully credited invoices."""
    invoice = session.exec(select(InvInvoice).where(InvInvoice.number == number).with_for_update()).first()
    if invoice is None:
        raise InvoiceNotFound(number)
    assert invoice.id is not None
    if invoice.kind != "invoice":
        raise CreditRefused("En kreditfaktura kan inte krediteras.")
    credited = credited_line_ids(session, invoice.id)
    lines = [line for line in invoice_lines(session, invoice.id) if line.id not in credited]
    if not lines:
        raise CreditRefused(f"Faktura {number} är redan krediterad i sin helhet "
                            "och kan inte krediteras igen.")
    return invoice, lines


def credit_invoice(session: Session, context: InvoicingContext, number: str, *, actor: str, reason: str = "",
                   remote_addr: str = "") -> InvInvoice:
    """Finance credits what is left of an invoice (all of it, unless lines were credited before)."""
    today = Today.of(session, context)
    original, lines = _open_invoice(session, number)
    note = issue_credit_note(session, context, today, original, lines,
                             correlation_id=original.correlation_id, source_event_id=f"credit:{number}")
    record_act(session, actor=actor, action="invoice.credit", subject=f"invoice:{number}",
               detail=f"Kreditfaktura {note.number}. {reason}".strip(), remote_addr=remote_addr,
               at=today.now)
    return note


def reissue_invoice(session: Session, context: InvoicingContext, number: str, correction: BuyerCorrection, *,
                    actor: str, reason: str = "", remote_addr: str = "") -> tuple[InvInvoice, InvInvoice]:
    """A credit note of the original (what is left of it) and a new invoice with the corrected buyer.

    Both in the caller's transaction, both published as ``invoice.issued``.
    Returns (credit note, new invoice).
    """
    today = Today.of(session, context)
    original, lines = _open_invoice(session, number)
    document = document_of(original)
    problems = correction_problems(correction, document.buyer)
    if problems:
        raise CorrectionInvalid(problems)
    note = issue_credit_note(session, context, today, original, lines,
                             correlation_id=original.correlation_id, source_event_id=REISSUE_SOURCE + number)
    kept = {line.membership_id for line in lines}
    again: list[DocumentLine] = [line for line in document.lines if line.membership_id in kept]
    sequence, new_number = take_number(session, today.counter)
    buyer = correction.applied_to(document.buyer)
    replacement = reissued_document(number=new_number, issue_date=today.issue_date,
                                    payment_terms_days=context.payment_terms_days, seller=context.seller,
                                    original=document, lines=again, buyer=buyer,
                                    round_to_krona=context.round_to_krona)
    pdf = context.render_pdf(replacement)
    invoice = store_document(session, replacement, today.counter.series, sequence, pdf, today.now,
                             signup_id=original.signup_id, source_event_id=REISSUE_SOURCE + number,
                             correlation_id=original.correlation_id)
    # The membership is charged again: its next charge number (UNIQUE(membership_id, charge)).
    store_lines(session, invoice, replacement, charges=_next_charges(session, kept))
    for decision in session.exec(select(InvFeeDecision).where(col(InvFeeDecision.membership_id).in_(kept))):
        decision.invoice_number = new_number
        session.add(decision)
    add_event(session, issued_event(replacement, pdf, today.now, correlation_id=original.correlation_id,
                                    signup_id=original.signup_id, organisation=snapshot_of(buyer)))
    record_act(session, actor=actor, action="invoice.reissue", subject=f"invoice:{number}",
               detail=f"Krediterad med {note.number}, ersatt av {new_number}. {reason}".strip(),
               remote_addr=remote_addr, at=today.now)
    record_act(session, actor=actor, action="invoice.reissue", subject=f"invoice:{new_number}",
               detail=f"Ersätter faktura {number}. {reason}".strip(), remote_addr=remote_addr, at=today.now)
    log.info("invoice reissued", original=number, credit_note=note.number, invoice=new_number)
    return note, invoice


def _next_charges(session: Session, membership_ids: set[int]) -> dict[int, int]:
    rows = session.exec(select(InvInvoiceLine.membership_id, func.max(InvInvoiceLine.charge))
                        .where(col(InvInvoiceLine.membership_id).in_(membership_ids))
                        .group_by(col(InvInvoiceLine.membership_id))).all()
    return {membership_id: int(charge) + 1 for membership_id, charge in rows}


# --- A cancelled membership ---

def make_cancellation_handler(context: InvoicingContext) -> EventHandler:
    def handle(session: Session, event: MembershipCancelled) -> None:
        handle_cancellation(session, event, context)

    return handle


def handle_cancellation(session: Session, event: MembershipCancelled,
                        context: InvoicingContext) -> InvMembershipCancellation:
    """Credit the cancelled membership's line if it was invoiced; record the outcome either way.

    Recorded once per membership (UNIQUE): a second cancellation of the same
    membership changes nothing. A cancellation that arrives before the
    membership's sign-up or renewal is recorded as ``before_invoicing``, and
    that sign-up then does not invoice it (``invoice_signup``).
    """
    today = Today.of(session, context)
    earlier = session.exec(select(InvMembershipCancellation)
                           .where(InvMembershipCancellation.membership_id == event.membership_id)).first()
    if earlier is not None:
        log.info("membership already cancelled", membership_id=event.membership_id)
        return earlier
    decision = session.exec(select(InvFeeDecision.outcome)
                            .where(InvFeeDecision.membership_id == event.membership_id)).first()
    line = session.exec(select(InvInvoiceLine).where(InvInvoiceLine.membership_id == event.membership_id)
                        .order_by(col(InvInvoiceLine.charge).desc())).first()
    credited = line is not None and session.exec(
        select(InvCreditLine.id).where(InvCreditLine.credited_line_id == line.id)).first() is not None
    outcome = cancellation_outcome(decision, line_exists=line is not None,
                                   line_open=line is not None and not credited)
    original = session.get(InvInvoice, line.invoice_id) if line is not None else None
    note = None
    if outcome is CancellationOutcome.CREDITED:
        assert original is not None and line is not None
        note = issue_credit_note(session, context, today, original, [line],
                                 correlation_id=event.correlation_id, source_event_id=str(event.event_id))
    record = InvMembershipCancellation(
        membership_id=event.membership_id, organisation_id=event.organisation.id,
        organisation_name=event.organisation.name, network_code=event.network_code,
        network_name=event.network_name, year=event.year, outcome=outcome.value, reason=event.reason[:500],
        cancelled_by=event.cancelled_by[:200], cancelled_at=event.occurred_at,
        original_invoice_number=original.number if original else None,
        credit_note_number=note.number if note else None, source_event_id=str(event.event_id),
        recorded_at=today.now)
    session.add(record)
    session.flush()
    log.info("membership cancellation recorded", membership_id=event.membership_id, outcome=outcome.value,
             credit_note=record.credit_note_number, correlation_id=event.correlation_id)
    return record


def get_open_invoice(session: Session, number: str) -> tuple[InvInvoice, InvoiceDocument, list[DocumentLine]]:
    """For the reissue form: the invoice, its document and the lines still open (raises if none)."""
    invoice = get_invoice(session, number)
    if invoice is None:
        raise InvoiceNotFound(number)
    assert invoice.id is not None
    document = document_of(invoice)
    credited = set(session.exec(select(InvCreditLine.membership_id)
                                .where(InvCreditLine.original_invoice_id == invoice.id)))
    return invoice, document, open_lines(document, credited)
