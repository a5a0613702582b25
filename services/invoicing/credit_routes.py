"""Finance's credit actions: "Kreditera" and "Ersätt faktura" (reissue), as forms and as JSON.

Pages: ``GET /invoices/{number}/reissue`` (the form), ``POST /invoices/{number}/reissue``
and ``POST /invoices/{number}/credit`` (CSRF). API: ``POST /api/v1/invoices/{number}/credit``
and ``POST /api/v1/invoices/{number}/reissue``. Role: finance.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factory at runtime.

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session

from services.invoicing.api import InvoiceOut, invoice_out
from services.invoicing.credit_rules import BuyerCorrection, CreditRefused
from services.invoicing.credits import (
    CorrectionInvalid,
    InvoiceNotFound,
    credit_invoice,
    get_open_invoice,
    reissue_invoice,
)
from services.invoicing.domain import format_rate
from services.invoicing.handlers import InvoicingContext
from services.invoicing.pages import STATUS_LABELS
from services.invoicing.settings import InvoicingSettings
from shared.audit import entries_for
from shared.db import transaction
from shared.runtime import ServiceRuntime
from shared.web import csrf_token, csrf_valid, make_templates, set_csrf_cookie, staff_api, staff_page

T = TypeVar("T")
EXPIRED = "Formuläret har gått ut. Försök igen."


class CreditIn(BaseModel):
    reason: str = Field("", max_length=300, description="Varför fakturan krediteras (sparas i loggen)")


class ReissueIn(BaseModel):
    name: str | None = Field(None, description="Köparens namn; utelämnat = som på originalet")
    invoice_email: str | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    reference: str | None = Field(None, description="Er referens")
    reason: str = Field("", max_length=300)


class ReissueOut(BaseModel):
    credit_note: InvoiceOut
    invoice: InvoiceOut


def _error(status: int, detail: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": errors or {}}, status_code=status)


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def credit_router(settings: InvoicingSettings, runtime: ServiceRuntime,
                  context: InvoicingContext) -> APIRouter:
    router = APIRouter()
    engine: Engine = runtime.engine
    templates = make_templates(Path(__file__).parent / "templates")
    templates.env.filters["rate"] = format_rate
    templates.env.globals["status_labels"] = STATUS_LABELS
    templates.env.globals["registration_url"] = settings.registration_public_url.rstrip("/")
    ApiUser = Annotated[str, Depends(staff_api(settings, "finance"))]
    PageUser = Annotated[str, Depends(staff_page(settings, "finance"))]

    async def in_transaction(work: Callable[[Session], T]) -> T:
        def run() -> T:
            with transaction(engine) as session:
                return work(session)

        result = await anyio.to_thread.run_sync(run)
        runtime.relay.notify()  # publish invoice.issued now, not at the next poll
        return result

    # --- API ---

    @router.post("/api/v1/invoices/{number}/credit", status_code=201, response_model=InvoiceOut,
                 tags=["invoices"], responses={404: {}, 409: {"description": "Redan krediterad"}})
    async def api_credit(number: str, user: ApiUser, request: Request,
                         body: CreditIn | None = None) -> Any:
        """Credit what is left of an invoice: a credit note with its own number, naming the original."""
        reason = body.reason if body else ""
        try:
            note = await in_transaction(lambda session: invoice_out(credit_invoice(
                session, context, number, actor=user, reason=reason, remote_addr=_remote(request))))
        except InvoiceNotFound as missing:
            return _error(404, str(missing))
        except CreditRefused as refused:
            return _error(409, str(refused))
        return note

    @router.post("/api/v1/invoices/{number}/reissue", status_code=201, response_model=ReissueOut,
                 tags=["invoices"], responses={404: {}, 409: {}, 422: {}})
    async def api_reissue(number: str, body: ReissueIn, user: ApiUser, request: Request) -> Any:
        """A credit note of the invoice and a new invoice with the corrected buyer, in one transaction."""

        def work(session: Session) -> ReissueOut:
            _invoice, document, _lines = get_open_invoice(session, number)
            current = BuyerCorrection.of(document.buyer)
            given = body.model_dump(exclude={"reason"}, exclude_none=True)
            correction = BuyerCorrection(**{**current.__dict__, **{k: v.strip() for k, v in given.items()}})
            note, invoice = reissue_invoice(session, context, number, correction, actor=user,
                                            reason=body.reason, remote_addr=_remote(request))
            return ReissueOut(credit_note=invoice_out(note), invoice=invoice_out(invoice))

        try:
            return await in_transaction(work)
        except InvoiceNotFound as missing:
            return _error(404, str(missing))
        except CreditRefused as refused:
            return _error(409, str(refused))
        except CorrectionInvalid as invalid:
            return _error(422, "Uppgifterna innehåller fel.", invalid.problems)

    # --- Pages ---

    async def render_form(request: Request, user: str, number: str, *,
                          values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                          alert: str = "", status: int = 200) -> Response:
        def load() -> Any:
            with Session(engine) as session:
                invoice, document, lines = get_open_invoice(session, number)
                return invoice, document, lines, list(entries_for(session, f"invoice:{number}"))

        try:
            invoice, document, lines, audit = await anyio.to_thread.run_sync(load)
        except InvoiceNotFound:
            return templates.TemplateResponse(request, "not_found.html", {"user": user, "number": number},
                                              status_code=404)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "reissue.html", {
            "user": user, "invoice": invoice, "document": document, "open_lines": lines,
            "values": values or BuyerCorrection.of(document.buyer).__dict__, "errors": errors or {},
            "alert": alert, "csrf_token": token, "audit": audit,
        }, status_code=status)
        set_csrf_cookie(response, token, settings)
        return response

    @router.get("/invoices/{number}/reissue", include_in_schema=False)
    async def reissue_form(number: str, request: Request, user: PageUser) -> Response:
        return await render_form(request, user, number)

    @router.post("/invoices/{number}/reissue", include_in_schema=False)
    async def reissue_submit(number: str, request: Request, user: PageUser) -> Response:
        form = await request.form()
        values = {key: str(form.get(key) or "").strip()
                  for key in ("name", "invoice_email", "street", "postal_code", "city", "reference")}
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render_form(request, user, number, values=values, alert=EXPIRED, status=400)
        reason = str(form.get("reason") or "")[:300]
        try:
            _note, invoice = await in_transaction(lambda session: reissue_invoice(
                session, context, number, BuyerCorrection(**values), actor=user, reason=reason,
                remote_addr=_remote(request)))
        except CorrectionInvalid as invalid:
            return await render_form(request, user, number, values=values, errors=invalid.problems,
                                     alert="Rätta de markerade fälten.", status=422)
        except (CreditRefused, InvoiceNotFound) as refused:
            return await render_form(request, user, number, values=values, alert=str(refused), status=409)
        return RedirectResponse(f"/invoices/{invoice.number}", status_code=303)

    @router.post("/invoices/{number}/credit", include_in_schema=False)
    async def credit_submit(number: str, request: Request, user: PageUser) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render_form(request, user, number, alert=EXPIRED, status=400)
        reason = str(form.get("reason") or "")[:300]
        try:
            note = await in_transaction(lambda session: credit_invoice(
                session, context, number, actor=user, reason=reason, remote_addr=_remote(request)))
        except (CreditRefused, InvoiceNotFound) as refused:
            return await render_form(request, user, number, alert=str(refused), status=409)
        return RedirectResponse(f"/invoices/{note.number}", status_code=303)

    return router
