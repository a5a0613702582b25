"""Reading a period's invoices, lines and payments for the exports, and building each file."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.exports.sie import Accounts, Voucher, invoice_voucher, payment_voucher, render_sie
from services.invoicing.models import InvInvoice, InvInvoicePdf
from services.invoicing.payments.ledger import credited_by_number, paid_by_invoice
from services.invoicing.payments.matching import outstanding
from services.invoicing.payments.models import InvPayment
from shared.csv_export import write_csv


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: date | None = None
    end: date | None = None

    @property
    def slug(self) -> str:
        return f"{self.start or 'start'}_{self.end or 'slut'}"


def parse_period(start: str, end: str) -> Period:
    """``from``/``to`` as ÅÅÅÅ-MM-DD, both optional; a Swedish message for anything else."""
    def one(text: str, what: str) -> date | None:
        text = text.strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError as error:
            raise PeriodError(f"{what} ska skrivas ÅÅÅÅ-MM-DD, t.ex. 2018-01-01.") from error

    period = Period(one(start, "Från-datumet"), one(end, "Till-datumet"))
    if period.start and period.end and period.start > period.end:
        raise PeriodError("Från-datumet ligger efter till-datumet.")
    return period


def invoices_in(session: Session, period: Period) -> list[InvInvoice]:
    query = select(InvInvoice)
    if period.start:
        query = query.where(col(InvInvoice.issue_date) >= period.start)
    if period.end:
        query = query.where(col(InvInvoice.issue_date) <= period.end)
    return list(session.exec(query.order_by(col(InvInvoice.issue_date), col(InvInvoice.id))))


INVOICE_HEADER = ("Nummer", "Typ", "Status", "Fakturadatum", "Förfallodatum", "Köpare", "Organisationsnummer",
                  "Netto", "Moms", "Totalt", "Öresavrundning", "Att betala", "Betalt", "Kvar att betala",
                  "OCR", "Krediterar", "Valuta")
LINE_HEADER = ("Fakturanummer", "Typ", "Rad", "Nätverkskod", "Nätverk", "År", "Beskrivning", "Period från",
               "Period till", "Momssats", "Belopp exkl. moms")


def invoice_row(invoice: InvInvoice, document: InvoiceDocument, paid: Decimal,
                credited: Decimal) -> tuple[object, ...]:
    """One invoice as a CSV row (pure): amounts as text with a point, what is paid and still owed."""
    payable = document.payable
    owed = outstanding(payable, credited, paid) if invoice.kind == "invoice" else Decimal("0.00")
    return (invoice.number, "Kreditfaktura" if invoice.kind == "credit_note" else "Faktura",
            invoice.status, invoice.issue_date.isoformat(), invoice.due_date.isoformat(),
            invoice.buyer_name, invoice.buyer_org_number, f"{invoice.net:.2f}", f"{invoice.vat:.2f}",
            f"{invoice.total:.2f}", f"{document.rounding:.2f}", f"{payable:.2f}", f"{paid:.2f}",
            f"{owed:.2f}", invoice.ocr, document.credited_number or "", invoice.currency)


def line_rows(invoice: InvInvoice, document: InvoiceDocument) -> list[tuple[object, ...]]:
    """An invoice's lines as CSV rows (pure); a credit note's come from its document, negative."""
    kind = "Kreditfaktura" if invoice.kind == "credit_note" else "Faktura"
    return [(invoice.number, kind, position, line.network_code, line.network_name, line.year,
             line.description, line.period_start.isoformat(), line.period_end.isoformat(),
             f"{line.vat_rate:.2f}", f"{line.amount:.2f}")
            for position, line in enumerate(document.lines, start=1)]


def invoices_csv(session: Session, period: Period) -> bytes:
    invoices = invoices_in(session, period)
    credited = credited_by_number(session)
    paid = paid_by_invoice(session, [i.id for i in invoices if i.id is not None])
    rows = [invoice_row(invoice, InvoiceDocument.model_validate_json(invoice.document),
                        paid.get(invoice.id or 0, Decimal(0)), credited.get(invoice.number, Decimal(0)))
            for invoice in invoices]
    return write_csv(INVOICE_HEADER, rows)


def lines_csv(session: Session, period: Period) -> bytes:
    rows = [row for invoice in invoices_in(session, period)
            for row in line_rows(invoice, InvoiceDocument.model_validate_json(invoice.document))]
    return write_csv(LINE_HEADER, rows)


def vouchers_in(session: Session, period: Period, accounts: Accounts) -> list[Voucher]:
    vouchers: list[Voucher] = []
    for invoice in invoices_in(session, period):
        document = InvoiceDocument.model_validate_json(invoice.document)
        vouchers.append(invoice_voucher(
            number=invoice.number, kind=invoice.kind, issue_date=invoice.issue_date, buyer=invoice.buyer_name,
            credited_number=document.credited_number,
            vat_groups=[(group.rate, group.net, group.vat) for group in document.vat_groups],
            total=invoice.total, rounding=document.rounding, accounts=accounts))
    query = select(InvPayment, InvInvoice).join(InvInvoice,
                                                col(InvInvoice.id) == col(InvPayment.invoice_id))
    if period.start:
        query = query.where(col(InvPayment.paid_on) >= period.start)
    if period.end:
        query = query.where(col(InvPayment.paid_on) <= period.end)
    for payment, invoice in session.exec(query.order_by(col(InvPayment.paid_on), col(InvPayment.id))):
        vouchers.append(payment_voucher(number=invoice.number, paid_on=payment.paid_on, amount=payment.amount,
                                        payer=payment.payer or invoice.buyer_name, accounts=accounts))
    vouchers.sort(key=lambda voucher: voucher.day)  # stable: invoices before payments on the same day
    return vouchers


def sie_file(session: Session, period: Period, *, accounts: Accounts, company: str, org_number: str,
             generated_on: date) -> bytes:
    return render_sie(company=company, org_number=org_number, generated_on=generated_on, accounts=accounts,
                      vouchers=vouchers_in(session, period, accounts))


def pdf_zip(session: Session, period: Period) -> bytes:
    """The period's PDFs exactly as sent, one ``faktura-<number>.pdf`` each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for invoice in invoices_in(session, period):
            pdf = session.exec(select(InvInvoicePdf.pdf)
                               .where(InvInvoicePdf.invoice_id == invoice.id)).first()
            if pdf is None:
                continue
            prefix = "kreditfaktura" if invoice.kind == "credit_note" else "faktura"
            info = zipfile.ZipInfo(f"{prefix}-{invoice.number}.pdf",
                                   date_time=(invoice.issue_date.year, invoice.issue_date.month,
                                              invoice.issue_date.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, bytes(pdf))
    return buffer.getvalue()

