"""Finance's payments page: import a BgMax file, match the payments no OCR matched, see the imports."""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import UploadFile

from services.invoicing.api import session_dependency
from services.invoicing.pagekit import MAX_UPLOAD_BYTES, actor_of, form_text, render
from services.invoicing.payments.handlers import (
    PaymentError,
    match_payment,
    unmatched_payments,
)
from services.invoicing.payments.imports import ImportResult, import_bgmax, recent_imports, recent_payments
from services.invoicing.settings import InvoicingSettings
from shared.audit import entries_for
from shared.events import utc_now
from shared.web import RowId, csrf_valid, staff_page

EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."


def payments_router(settings: InvoicingSettings, engine: Engine,
                    clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    UserDep = Annotated[str, Depends(staff_page(settings, "finance"))]
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]

    def page(request: Request, user: str, session: Session, *, error: str = "",
             result: ImportResult | None = None, status_code: int = 200) -> Response:
        return render(request, settings, "payments.html", {
            "user": user, "unmatched": unmatched_payments(session), "imports": recent_imports(session),
            "log": entries_for(session, "payments", limit=50), "result": result, "error": error,
            "booked": recent_payments(session),
        }, status_code=status_code)

    @router.get("/payments")
    def payments(request: Request, user: UserDep, session: SessionDep) -> Response:
        return page(request, user, session)

    @router.post("/payments/import")
    async def import_file(request: Request, user: UserDep, session: SessionDep) -> Response:
        # The form as a context manager: the uploaded file's temporary file is closed after.
        async with request.form(max_part_size=MAX_UPLOAD_BYTES) as form:
            if not csrf_valid(request, form_text(form, "csrf_token")):
                return page(request, user, session, error=EXPIRED, status_code=400)
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return page(request, user, session, error="Välj en BgMax-fil att läsa in.", status_code=400)
            filename = upload.filename
            data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return page(request, user, session, error="Filen är för stor för en BgMax-fil (högst 10 MB).",
                        status_code=400)
        try:
            result = import_bgmax(engine, data, filename=filename, actor=actor_of(request, user),
                                  now=clock(), receiver_bankgiro=settings.seller_bankgiro,
                                  allow_test=settings.bgmax_allow_test_files)
        except PaymentError as error:
            return page(request, user, session, error=str(error), status_code=400)
        request.app.state.runtime.relay.notify()
        return page(request, user, session, result=result)

    @router.post("/payments/{payment_id}/match")
    async def match(payment_id: RowId, request: Request, user: UserDep, session: SessionDep) -> Response:
        form = await request.form()
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return page(request, user, session, error=EXPIRED, status_code=400)
        number = form_text(form, "invoice_number", 30)
        try:
            match_payment(engine, payment_id=payment_id, number=number, actor=actor_of(request, user),
                          now=clock(), amount=form_text(form, "amount", 30))
        except PaymentError as error:
            return page(request, user, session, error=str(error), status_code=400)
        request.app.state.runtime.relay.notify()
        return RedirectResponse(f"/invoices/{number.strip()}?klart=matchad", status_code=303)

    return router
