"""Use cases: a sign-up (or a yearly renewal) becomes fee decisions and, when something is due, one invoice.

Handlers run inside ``shared.consumer.handle_once``'s transaction: the
invoice, its number, its PDF, the fee decisions and the outgoing
``invoice.issued`` event (outbox) commit together or not at all.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Table, bindparam
from sqlmodel import Session, SQLModel, col, select

from services.invoicing.document import Buyer, InvoiceDocument, Seller
from services.invoicing.domain import (
    FeeDecision,
    Outcome,
    build_invoice,
    decide_fees,
    format_org_number,
    series_for,
)
from services.invoicing.models import (
    InvFeeDecision,
    InvInvoice,
    InvInvoiceLine,
    InvInvoicePdf,
    InvMembershipCancellation,
)
from services.invoicing.numbering import lock_series, take_number
from services.invoicing.settings import InvoicingSettings
from shared.consumer import EventHandler
from shared.digits import only_digits
from shared.events import (
    InvoiceIssued,
    InvoiceLineInfo,
    MembershipsRenewed,
    OrganisationSnapshot,
    SignupCompleted,
    utc_now,
)
from shared.outbox import add_event
from shared.policy import FeePolicy

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class InvoicingContext:
    """What the handlers need, passed in so tests can use their own clock, policies or renderer."""

    policies: Mapping[int, FeePolicy]
    seller: Seller
    render_pdf: Callable[[InvoiceDocument], bytes]
    payment_terms_days: int = 30
    round_to_krona: bool = False
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Stockholm"))
    clock: Callable[[], datetime] = utc_now


def seller_from(settings: InvoicingSettings) -> Seller:
    return Seller(
        name=settings.seller_name, org_number=settings.seller_org_number,
        vat_number=settings.seller_vat_number, street=settings.seller_street,
        postal_code=settings.seller_postal_code, city=settings.seller_city,
        bankgiro=settings.seller_bankgiro, email=settings.seller_email, phone=settings.seller_phone,
        website=settings.seller_website, reference=settings.seller_reference,
        f_tax=settings.seller_f_tax,
    )


# What is invoiced: a sign-up, or an organisation's memberships renewed by the yearly run.
BillableEvent = SignupCompleted | MembershipsRenewed


def signup_id_of(event: BillableEvent) -> int | None:
    return event.signup_id if isinstance(event, SignupCompleted) else None


def buyer_from(event: BillableEvent) -> Buyer:
    organisation = event.organisation
    return Buyer(
        organisation_id=organisation.id, name=organisation.name,
        org_number=format_org_number(organisation.org_number),
        street=organisation.address.street, postal_code=organisation.address.postal_code,
        city=organisation.address.city, invoice_email=organisation.invoice_email,
        # A public-sector buyer routes invoices by this reference; without one,
        # the contact who signed up is the best "Er referens" there is.
        reference=organisation.buyer_reference or event.contact.name,
    )


def make_signup_handler(context: InvoicingContext) -> EventHandler:
    def handle(session: Session, event: SignupCompleted) -> None:
        invoice_signup(session, event, context)

    return handle


# Built once (the membership ids are an expanding bound parameter), not per sign-up.
_EARLIER_DECISIONS = select(InvFeeDecision).where(
    col(InvFeeDecision.membership_id).in_(bindparam("ids", expanding=True)))
_BILLED_MEMBERSHIPS = select(InvInvoiceLine.membership_id).where(
    col(InvInvoiceLine.membership_id).in_(bindparam("ids", expanding=True)))
_CANCELLED_MEMBERSHIPS = select(InvMembershipCancellation.membership_id).where(
    col(InvMembershipCancellation.membership_id).in_(bindparam("ids", expanding=True)))


def invoice_signup(session: Session, event: BillableEvent, context: InvoicingContext) -> InvInvoice | None:
    """Decide every new membership's fee; issue one invoice for those with a fee. None if nothing is due.

    A renewal (``memberships.renewed``) is invoiced the same way: one invoice per
    organisation, a line per fee-liable network, exemptions recorded. A membership
    whose cancellation arrived first is recorded as cancelled and not invoiced.
    """
    now = context.clock()
    issue_date = now.astimezone(context.timezone).date()
    # Lock the series first: it serialises every decision, so two instances
    # handling sign-ups that list the same membership never both bill it.
    counter = lock_series(session, series_for(issue_date))

    ids = {"ids": [m.membership_id for m in event.memberships]}
    earlier = {d.membership_id: d for d in session.exec(_EARLIER_DECISIONS, params=ids)}
    billed = set(session.exec(_BILLED_MEMBERSHIPS, params=ids))
    final = {mid for mid, d in earlier.items() if d.outcome != Outcome.NO_POLICY} | billed
    for membership in event.memberships:
        if not membership.created and membership.membership_id not in final:
            # Registration knew it, we never decided on it: our ledger says it is unpaid, so bill it.
            log.warning("existing membership without a fee decision", membership_id=membership.membership_id)

    cancelled = set(session.exec(_CANCELLED_MEMBERSHIPS, params=ids))
    decisions = decide_fees(context.policies, event.memberships, already_decided=final, cancelled=cancelled)
    to_invoice = [d for d in decisions if d.outcome is Outcome.INVOICED]
    invoice = None
    if to_invoice:
        sequence, number = take_number(session, counter)
        document = build_invoice(number=number, issue_date=issue_date,
                                 payment_terms_days=context.payment_terms_days, seller=context.seller,
                                 buyer=buyer_from(event), decisions=to_invoice,
                                 round_to_krona=context.round_to_krona)
        pdf = context.render_pdf(document)
        invoice = _store_invoice(session, event, document, counter.series, sequence, pdf, now)
        add_event(session, _issued_event(event, document, pdf, now))
    _record_decisions(session, event, decisions, earlier, invoice.number if invoice else None, now)
    log.info("sign-up invoiced" if invoice else "sign-up without invoice",
             signup_id=signup_id_of(event), event_type=event.type,
             invoice=invoice.number if invoice else None,
             invoiced=len(to_invoice), exempt=sum(d.outcome is Outcome.EXEMPT for d in decisions),
             already_decided=len(final), correlation_id=event.correlation_id)
    return invoice


def _store_invoice(session: Session, event: BillableEvent, document: InvoiceDocument, series: str,
                   sequence: int, pdf: bytes, now: datetime) -> InvInvoice:
    invoice = store_document(session, document, series, sequence, pdf, now, signup_id=signup_id_of(event),
                             source_event_id=str(event.event_id), correlation_id=event.correlation_id)
    store_lines(session, invoice, document)
    return invoice


def store_document(session: Session, document: InvoiceDocument, series: str, sequence: int, pdf: bytes,
                   now: datetime, *, signup_id: int | None, source_event_id: str,
                   correlation_id: str) -> InvInvoice:
    """The invoice (or credit note) row and its PDF; an invoice's lines are stored by :func:`store_lines`."""
    invoice = InvInvoice(
        number=document.number, series=series, sequence=sequence, kind=document.kind, status="issued",
        signup_id=signup_id, source_event_id=source_event_id,
        correlation_id=correlation_id, organisation_id=document.buyer.organisation_id,
        buyer_name=document.buyer.name, buyer_org_number=document.buyer.org_number,
        buyer_org_digits=only_digits(document.buyer.org_number), buyer_email=document.buyer.invoice_email,
        issue_date=document.issue_date, due_date=document.due_date, currency=document.currency,
        net=document.net, vat=document.vat, total=document.total, ocr=document.ocr,
        document=document.model_dump_json(), issued_at=now,
    )
    session.add(invoice)
    session.flush()
    assert invoice.id is not None
    session.connection().execute(_table(InvInvoicePdf).insert(), [{"invoice_id": invoice.id, "pdf": pdf}])
    return invoice


def store_lines(session: Session, invoice: InvInvoice, document: InvoiceDocument,
                charges: Mapping[int, int] | None = None) -> None:
    """An invoice's fee lines: the ledger of what each membership is charged.

    ``charges`` gives a membership's charge number when it is charged again (a
    reissue after a credit note); otherwise it is 0, the first and only charge.
    """
    # Rows nothing reads back in this transaction: plain INSERTs on the session's
    # connection, no ORM objects to build and track.
    session.connection().execute(_table(InvInvoiceLine).insert(), [
        {"invoice_id": invoice.id, "position": position, "membership_id": line.membership_id,
         "charge": (charges or {}).get(line.membership_id, 0),
         "network_code": line.network_code, "network_name": line.network_name, "year": line.year,
         "description": line.description, "period_start": line.period_start,
         "period_end": line.period_end, "vat_rate": line.vat_rate, "amount": line.amount}
        for position, line in enumerate(document.lines, start=1)
    ])


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def _issued_event(event: BillableEvent, document: InvoiceDocument, pdf: bytes,
                  now: datetime) -> InvoiceIssued:
    return issued_event(document, pdf, now, correlation_id=event.correlation_id,
                        signup_id=signup_id_of(event), organisation=event.organisation)


def issued_event(document: InvoiceDocument, pdf: bytes, now: datetime, *, correlation_id: str,
                 signup_id: int | None, organisation: OrganisationSnapshot) -> InvoiceIssued:
    """``invoice.issued`` for an invoice or a credit note (which names the invoice it credits)."""
    return InvoiceIssued(
        occurred_at=now, correlation_id=correlation_id, number=document.number,
        kind=document.kind, signup_id=signup_id, organisation=organisation,
        credited_number=document.credited_number,
        issue_date=document.issue_date, due_date=document.due_date, currency=document.currency,
        lines=tuple(InvoiceLineInfo(network_code=line.network_code, description=line.full_description,
                                    amount=line.amount) for line in document.lines),
        net=document.net, vat=document.vat, total=document.total, ocr=document.ocr,
        payable=document.payable, pdf_base64=base64.b64encode(pdf).decode("ascii"),
    )


def _record_decisions(session: Session, event: BillableEvent, decisions: list[FeeDecision],
                      earlier: Mapping[int, InvFeeDecision], invoice_number: str | None,
                      now: datetime) -> None:
    """Store each decision: new ones in one bulk INSERT, a replaced "no policy" one by an UPDATE."""
    new: list[dict[str, object]] = []
    for decision in decisions:
        membership = decision.membership
        values: dict[str, object] = {
            "signup_id": signup_id_of(event), "outcome": decision.outcome.value, "reason": decision.reason,
            "amount": decision.amount,
            "invoice_number": invoice_number if decision.outcome is Outcome.INVOICED else None,
            "decided_at": now,
        }
        # Only a "no policy" decision is ever replaced: it was a wait, not a decision about the fee.
        row = earlier.get(membership.membership_id)
        if row is not None:
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)
            continue
        new.append({
            "membership_id": membership.membership_id, "organisation_id": event.organisation.id,
            "organisation_name": event.organisation.name, "org_number": event.organisation.org_number,
            "network_code": membership.network_code, "network_name": membership.network_name,
            "year": membership.year, **values,
        })
    if new:
        session.connection().execute(_table(InvFeeDecision).insert(), new)
