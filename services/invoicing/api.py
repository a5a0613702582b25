"""Finance's JSON API: issued invoices and their PDFs, for a bearer token or a staff login.

Read-only on purpose: an issued invoice is never edited or deleted (Swedish
bookkeeping rules), so there are no PUT, PATCH or DELETE routes. A
correction is a credit note, issued as a new document.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from services.invoicing import queries, ubl
from services.invoicing.models import InvInvoice
from services.invoicing.settings import InvoicingSettings
from shared.web import staff_api


class AddressOut(BaseModel):
    street: str
    postal_code: str
    city: str


class BuyerOut(BaseModel):
    organisation_id: int
    name: str
    org_number: str
    invoice_email: str
    reference: str
    address: AddressOut


class LineOut(BaseModel):
    network: str
    network_name: str
    description: str
    period_start: date
    period_end: date
    vat_rate: Decimal
    amount: Decimal


class InvoiceOut(BaseModel):
    number: str
    kind: Literal["invoice", "credit_note"]
    status: str
    issue_date: date
    due_date: date
    currency: str
    buyer: BuyerOut
    lines: list[LineOut]
    net: Decimal
    vat: Decimal
    total: Decimal
    ocr: str
    pdf_url: str
    # A credit note names the invoice it credits.
    credited_number: str | None = None


def invoice_out(invoice: InvInvoice) -> InvoiceOut:
    """The API's view of an invoice: its stored snapshot, plus the status that may change."""
    document = queries.document_of(invoice)
    buyer = document.buyer
    return InvoiceOut(
        number=document.number, kind=document.kind, status=invoice.status,
        issue_date=document.issue_date, due_date=document.due_date, currency=document.currency,
        buyer=BuyerOut(organisation_id=buyer.organisation_id, name=buyer.name, org_number=buyer.org_number,
                       invoice_email=buyer.invoice_email, reference=buyer.reference,
                       address=AddressOut(street=buyer.street, postal_code=buyer.postal_code,
                                          city=buyer.city)),
        lines=[LineOut(network=line.network_code, network_name=line.network_name,
                       description=line.full_description, period_start=line.period_start,
                       period_end=line.period_end, vat_rate=line.vat_rate, amount=line.amount)
               for line in document.lines],
        net=document.net, vat=document.vat, total=document.total, ocr=document.ocr,
        pdf_url=f"/api/v1/invoices/{document.number}.pdf", credited_number=document.credited_number,
    )


def pdf_response(pdf: bytes, number: str) -> Response:
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="faktura-{number}.pdf"'})


def session_dependency(engine: Engine) -> Callable[[], Iterator[Session]]:
    def dependency() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    return dependency


def api_router(settings: InvoicingSettings, engine: Engine) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["invoices"],
                       dependencies=[Depends(staff_api(settings, "finance"))])
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]

    @router.get("/invoices", response_model=list[InvoiceOut])
    def list_invoices(
        session: SessionDep,
        org_number: Annotated[str | None, Query(description="the buyer's organisationsnummer")] = None,
        limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
        # Bounded: the fuzzer found an offset past 2**63 made the database driver fail (a 500).
        offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    ) -> list[InvoiceOut]:
        """Issued invoices, oldest first; ``org_number`` matches with or without the hyphen."""
        invoices = queries.list_invoices(session, org_number=org_number, limit=limit, offset=offset)
        return [invoice_out(invoice) for invoice in invoices]

    # Declared before /invoices/{number}, which would otherwise take "2026-00001.pdf" (or .xml) as a number.
    @router.get("/invoices/{number}.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    def invoice_pdf(number: str, session: SessionDep) -> Response:
        """The PDF exactly as it was sent to the buyer."""
        pdf = queries.get_pdf(session, number)
        if pdf is None:
            raise HTTPException(404, f"Fakturan {number} finns inte")
        return pdf_response(pdf, number)

    @router.get("/invoices/{number}.xml", response_class=Response,
                dependencies=[Depends(staff_api(settings, "finance"))],
                responses={200: {"content": {ubl.MEDIA_TYPE: {}}}})
    def invoice_ubl(number: str, session: SessionDep) -> Response:
        """The invoice or credit note as a Peppol BIS Billing 3.0 e-invoice (UBL 2.1)."""
        invoice = queries.get_invoice(session, number)
        if invoice is None:
            raise HTTPException(404, f"Fakturan {number} finns inte")
        kind = "kreditfaktura" if invoice.kind == "credit_note" else "faktura"
        # The PDF exactly as sent rides along, so the buyer's system can show the invoice image.
        xml = ubl.invoice_xml(queries.document_of(invoice), pdf=queries.get_pdf(session, number))
        return Response(xml, media_type=ubl.MEDIA_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{kind}-{number}.xml"'})

    @router.get("/invoices/{number}", response_model=InvoiceOut)
    def get_invoice(number: str, session: SessionDep) -> InvoiceOut:
        invoice = queries.get_invoice(session, number)
        if invoice is None:
            raise HTTPException(404, f"Fakturan {number} finns inte")
        return invoice_out(invoice)

    return router
