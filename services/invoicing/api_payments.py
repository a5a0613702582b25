"""Payments for scripts (bearer token or login, role finance): register, import BgMax, list, match.

The same handlers as the pages, so the same rules, audit entries and events;
a script that fetches Bankgirot's file each morning posts it here as it is.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.invoicing.api import session_dependency
from services.invoicing.models import InvInvoice
from services.invoicing.pagekit import MAX_UPLOAD_BYTES, actor_of
from services.invoicing.payments.handlers import (
    PaymentError,
    match_payment,
    register_payment,
)
from services.invoicing.payments.imports import ImportResult, import_bgmax
from services.invoicing.payments.models import InvPayment
from services.invoicing.settings import InvoicingSettings
from shared.events import utc_now
from shared.web import RowId, staff_api


class PaymentIn(BaseModel):
    amount: str = Field(description='as finance writes it: "1 234,50" or "1234.50"', max_length=30)
    paid_on: str = Field(description="YYYY-MM-DD", max_length=10)
    reference: str = Field("", max_length=100)


class MatchIn(BaseModel):
    invoice_number: str = Field(max_length=30)
    amount: str = Field("", description="only this part (the rest stays unmatched); empty: all",
                        max_length=30)


class PaymentOut(BaseModel):
    id: int
    invoice_number: str | None
    amount: Decimal
    paid_on: date
    reference: str
    source: str
    payer: str
    unmatched_reason: str


class ImportOut(BaseModel):
    import_id: int
    already_imported: bool
    payments: int
    matched: int
    unmatched: int
    duplicates: int
    total: Decimal


def _import_out(result: ImportResult) -> ImportOut:
    return ImportOut(import_id=result.import_id, already_imported=result.already_imported,
                     payments=result.payments, matched=result.matched, unmatched=result.unmatched,
                     duplicates=result.duplicates, total=result.total)


def payments_api_router(settings: InvoicingSettings, engine: Engine,
                        clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["payments"])
    UserDep = Annotated[str, Depends(staff_api(settings, "finance"))]
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]

    def out(session: Session, payment: InvPayment) -> PaymentOut:
        number = (session.exec(select(InvInvoice.number).where(InvInvoice.id == payment.invoice_id)).first()
                  if payment.invoice_id is not None else None)
        assert payment.id is not None
        return PaymentOut(id=payment.id, invoice_number=number, amount=payment.amount,
                          paid_on=payment.paid_on, reference=payment.reference, source=payment.source,
                          payer=payment.payer,
                          unmatched_reason=payment.unmatched_reason)

    @router.get("/payments", response_model=list[PaymentOut])
    def list_payments(user: UserDep, session: SessionDep,
                      unmatched: Annotated[bool, Query(description="only those not yet matched")] = False,
                      ) -> list[PaymentOut]:
        query = select(InvPayment)
        if unmatched:
            query = query.where(col(InvPayment.invoice_id).is_(None))
        return [out(session, p) for p in session.exec(query.order_by(col(InvPayment.id)).limit(10_000))]

    @router.post("/invoices/{number}/payments", response_model=PaymentOut, status_code=201)
    def add_payment(number: str, body: PaymentIn, request: Request, user: UserDep,
                    session: SessionDep) -> PaymentOut:
        """Register a payment against an invoice; 422 with a Swedish message for bad input."""
        try:
            payment = register_payment(engine, number=number, amount=body.amount, paid_on=body.paid_on,
                                       reference=body.reference, actor=actor_of(request, user), now=clock())
        except PaymentError as error:
            raise HTTPException(422, str(error)) from error
        request.app.state.runtime.relay.notify()
        return out(session, payment)

    @router.post("/payments/bgmax", response_model=ImportOut)
    async def import_file(request: Request, user: UserDep,
                          filename: Annotated[str, Query(max_length=300)] = "bgmax.txt") -> ImportOut:
        """The BgMax file as the request body; a file already imported answers with that import."""
        data = await request.body()
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, "Filen är för stor för en BgMax-fil (högst 10 MB).")
        try:
            result = import_bgmax(engine, data, filename=filename, actor=actor_of(request, user), now=clock(),
                                  receiver_bankgiro=settings.seller_bankgiro,
                                  allow_test=settings.bgmax_allow_test_files)
        except PaymentError as error:
            raise HTTPException(422, str(error)) from error
        request.app.state.runtime.relay.notify()
        return _import_out(result)

    @router.post("/payments/{payment_id}/match", response_model=PaymentOut)
    def match(payment_id: RowId, body: MatchIn, request: Request, user: UserDep,
              session: SessionDep) -> PaymentOut:
        try:
            payment = match_payment(engine, payment_id=payment_id, number=body.invoice_number,
                                    actor=actor_of(request, user), now=clock(), amount=body.amount)
        except PaymentError as error:
            raise HTTPException(422, str(error)) from error
        request.app.state.runtime.relay.notify()
        return out(session, payment)

    return router
