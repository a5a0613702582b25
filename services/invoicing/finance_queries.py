"""What the finance pages read: filtered invoice lists, an invoice's timeline, the year's summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from services.invoicing.credit_rules import REISSUE_SOURCE
from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvFeeDecision, InvInvoice, InvInvoiceLine, InvMembershipCancellation
from services.invoicing.payments.ledger import (
    credit_notes_for,
    credited_by_number,
    paid_by_invoice,
    payable_of,
    payments_for,
)
from services.invoicing.payments.matching import STATUS_LABELS, amount_due
from services.invoicing.payments.models import InvNetworkCost, InvOverdueNotice
from services.invoicing.summary import DecisionRow, LineRow, YearSummary, paid_share, summarise
from shared.audit import entries_for
from shared.digits import only_digits
from shared.money import format_sek

# Not a stored status: past due and not settled, for the list's filter.
OVERDUE = "overdue"
FILTER_LABELS = {**STATUS_LABELS, OVERDUE: "Förfallen"}
SOURCE_LABELS = {"bgmax": "Bankgiro (BgMax)", "manual": "registrerad för hand"}


@dataclass(frozen=True)
class InvoiceFilter:
    year: int | None = None
    status: str = ""
    network: str = ""
    organisation: str = ""


def filter_invoices(session: Session, chosen: InvoiceFilter, limit: int = 200,
                    today: date | None = None) -> list[InvInvoice]:
    """Newest first. ``status="overdue"`` means past due and not settled on ``today``."""
    query = select(InvInvoice)
    if chosen.year:
        query = query.where(col(InvInvoice.issue_date) >= date(chosen.year, 1, 1),
                            col(InvInvoice.issue_date) <= date(chosen.year, 12, 31))
    if chosen.status == OVERDUE and today is not None:
        query = query.where(InvInvoice.kind == "invoice", col(InvInvoice.due_date) < today,
                            col(InvInvoice.status).in_(["issued", "partly_paid", "partly_credited"]))
    elif chosen.status:
        query = query.where(InvInvoice.status == chosen.status)
    if chosen.network:
        on_network = select(InvInvoiceLine.invoice_id).where(InvInvoiceLine.network_code == chosen.network)
        query = query.where(col(InvInvoice.id).in_(on_network))
    if chosen.organisation:
        text = chosen.organisation.strip()
        # SQLite's lower() knows only ASCII, so Å, Ä and Ö are matched as typed and in the usual cases.
        variants = {text, text.lower(), text.upper(), text.capitalize(), text.title()}
        conditions = [col(InvInvoice.buyer_name).contains(variant, autoescape=True) for variant in variants]
        conditions.append(func.lower(col(InvInvoice.buyer_name)).contains(text.lower(), autoescape=True))
        if only_digits(text):
            conditions.append(col(InvInvoice.buyer_org_digits) == only_digits(text))
        query = query.where(or_(*conditions))
    return list(session.exec(query.order_by(col(InvInvoice.id).desc()).limit(limit)))


def invoice_years(session: Session) -> list[int]:
    dates = session.exec(select(func.min(InvInvoice.issue_date), func.max(InvInvoice.issue_date))).one()
    first, last = dates
    if first is None or last is None:
        return []
    return list(range(_as_date(last).year, _as_date(first).year - 1, -1))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def known_networks(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every network invoicing has seen, in decisions or in entered costs."""
    pairs = select(InvFeeDecision.network_code, InvFeeDecision.network_name).distinct()
    found = dict(session.exec(pairs).all())
    for code, name in session.exec(select(InvNetworkCost.network_code, InvNetworkCost.network_name)):
        found.setdefault(code, name)
    return sorted(found.items(), key=lambda item: item[1].casefold())


def aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes for aware columns; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str
    link: str = ""


def timeline(session: Session, invoice: InvInvoice) -> list[TimelineEntry]:
    """Everything that happened to an invoice, oldest first."""
    assert invoice.id is not None
    entries = [TimelineEntry(aware(invoice.issued_at), "Utställd",
                             f"{format_sek(invoice.total)}, förfaller {invoice.due_date.isoformat()}")]
    for payment in payments_for(session, invoice.id):
        how = SOURCE_LABELS.get(payment.source, payment.source)
        by_hand = payment.source == "bgmax" and payment.matched_by not in ("", "OCR")
        matched = " – matchad för hand" if by_hand else ""
        entries.append(TimelineEntry(aware(payment.matched_at or payment.registered_at), "Betalning",
                                     f"{format_sek(payment.amount)} betald {payment.paid_on.isoformat()}, "
                                     f"{how}{matched}" + (f", referens {payment.reference}"
                                                          if payment.reference else "")))
    for note in credit_notes_for(session, invoice):
        entries.append(TimelineEntry(aware(note.issued_at), "Kreditfaktura",
                                     f"{note.number}: {format_sek(note.total)}",
                                     link=f"/invoices/{note.number}"))
    document = InvoiceDocument.model_validate_json(invoice.document)
    if document.credited_number:
        entries.append(TimelineEntry(aware(invoice.issued_at), "Krediterar",
                                     document.credited_number, link=f"/invoices/{document.credited_number}"))
    entries += _reissue_links(session, invoice)
    for notice in session.exec(select(InvOverdueNotice).where(InvOverdueNotice.invoice_id == invoice.id)
                               .order_by(col(InvOverdueNotice.as_of))):
        entries.append(TimelineEntry(aware(notice.published_at), "Förfallen",
                                     f"{notice.as_of.isoformat()}: {format_sek(notice.outstanding)} obetalt "
                                     "(invoice.overdue skickat)"))
    for entry in entries_for(session, f"invoice:{invoice.number}"):
        entries.append(TimelineEntry(aware(entry.at), f"Logg: {entry.action}",
                                     f"{entry.actor}: {entry.detail}"))
    return sorted(entries, key=lambda e: e.at)


def _reissue_links(session: Session, invoice: InvInvoice) -> list[TimelineEntry]:
    """A reissue links both ways: original to replacement and back (its source is ``reissue:<original>``)."""
    if invoice.kind != "invoice":
        return []
    entries: list[TimelineEntry] = []
    replaced = invoice.source_event_id.removeprefix(REISSUE_SOURCE)
    if replaced != invoice.source_event_id:
        entries.append(TimelineEntry(aware(invoice.issued_at), "Ersätter", f"Faktura {replaced}",
                                     link=f"/invoices/{replaced}"))
    for replacement in session.exec(select(InvInvoice).where(
            InvInvoice.source_event_id == REISSUE_SOURCE + invoice.number, InvInvoice.kind == "invoice")):
        entries.append(TimelineEntry(aware(replacement.issued_at), "Ersatt av",
                                     f"Faktura {replacement.number}", link=f"/invoices/{replacement.number}"))
    return entries


def year_summary(session: Session, year: int) -> YearSummary:
    cancelled = set(session.exec(select(InvMembershipCancellation.membership_id)
                                 .where(InvMembershipCancellation.year == year)))
    decisions = [DecisionRow(d.network_code, d.network_name, d.outcome, d.membership_id in cancelled)
                 for d in session.exec(select(InvFeeDecision).where(InvFeeDecision.year == year))]
    invoices = {i.id: i for i in session.exec(
        select(InvInvoice).where(col(InvInvoice.id).in_(
            select(InvInvoiceLine.invoice_id).where(InvInvoiceLine.year == year))))}
    credited = credited_by_number(session)
    paid = paid_by_invoice(session, [i for i in invoices if i is not None])
    lines: list[LineRow] = []
    for line in session.exec(select(InvInvoiceLine).where(InvInvoiceLine.year == year)):
        invoice = invoices[line.invoice_id]
        due = amount_due(payable_of(invoice), credited.get(invoice.number, Decimal(0)))
        lines.append(LineRow(line.network_code, line.network_name, line.amount,
                             paid_share(due, paid.get(line.invoice_id, Decimal(0)))))
    # Credit notes carry their lines in the document only (negative amounts).
    for note in session.exec(select(InvInvoice).where(InvInvoice.kind == "credit_note")):
        for doc_line in InvoiceDocument.model_validate_json(note.document).lines:
            if doc_line.year == year:
                lines.append(LineRow(doc_line.network_code, doc_line.network_name, doc_line.amount,
                                     Decimal(0)))
    costs = [(c.network_code, c.network_name, c.amount)
             for c in session.exec(select(InvNetworkCost).where(InvNetworkCost.year == year))]
    return summarise(year, decisions, lines, costs)


def summary_years(session: Session) -> list[int]:
    years = set(session.exec(select(InvFeeDecision.year).distinct()))
    years |= set(session.exec(select(InvNetworkCost.year).distinct()))
    return sorted(years, reverse=True)


def costs_for(session: Session, year: int) -> list[InvNetworkCost]:
    return list(session.exec(select(InvNetworkCost).where(InvNetworkCost.year == year)
                             .order_by(col(InvNetworkCost.network_name))))
