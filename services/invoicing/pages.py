"""Finance's pages behind the staff login: invoices (filtered), one invoice with its timeline, decisions.

Payments, BgMax import, exports and the summary live in ``pages_payments`` and
``pages_books``; every route here needs the finance role.
"""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from sqlmodel import Session

from services.invoicing import queries
from services.invoicing.api import pdf_response, session_dependency
from services.invoicing.domain import Outcome
from services.invoicing.finance_queries import (
    FILTER_LABELS,
    InvoiceFilter,
    filter_invoices,
    invoice_years,
    known_networks,
    timeline,
)
from services.invoicing.pagekit import actor_of, finance_templates, form_text, render
from services.invoicing.payments.handlers import PaymentError, register_payment
from services.invoicing.payments.ledger import credited_by_number, ledger_for, paid_by_invoice, payable_of

# The status names, also for the credit pages (services.invoicing.credit_routes reads them here).
from services.invoicing.payments.matching import STATUS_LABELS as STATUS_LABELS
from services.invoicing.payments.matching import outstanding
from services.invoicing.settings import InvoicingSettings
from shared.audit import recent_entries
from shared.digits import is_digits
from shared.events import utc_now
from shared.web import csrf_valid, staff_page

PAGE_SIZE = 200
OUTCOME_LABELS = {
    Outcome.INVOICED.value: "Fakturerad",
    Outcome.EXEMPT.value: "Avgiftsfri",
    Outcome.NO_POLICY.value: "Ingen avgiftspolicy",
    Outcome.CANCELLED.value: "Avslutat före fakturering",
}


def pages_router(settings: InvoicingSettings, engine: Engine,
                 clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = finance_templates()
    templates.env.globals.update(outcome_labels=OUTCOME_LABELS,
                                 registration_url=settings.registration_public_url.rstrip("/"))
    UserDep = Annotated[str, Depends(staff_page(settings, "finance"))]
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]
    zone = ZoneInfo(settings.timezone)

    def today() -> date:
        return clock().astimezone(zone).date()

    @router.get("/")
    @router.get("/invoices")
    def invoices(request: Request, user: UserDep, session: SessionDep,
                 year: Annotated[str, Query(max_length=4)] = "",
                 status: Annotated[str, Query(max_length=20)] = "",
                 network: Annotated[str, Query(max_length=100)] = "",
                 organisation: Annotated[str, Query(max_length=200)] = "",
                 org_number: Annotated[str, Query(max_length=20)] = "") -> Response:
        chosen = InvoiceFilter(
            year=int(year) if is_digits(year) else None,
            status=status if status in FILTER_LABELS else "",
            network=network.strip(),
            organisation=(organisation or org_number).strip(),
        )
        listed = filter_invoices(session, chosen, limit=PAGE_SIZE, today=today())
        credited = credited_by_number(session)
        paid = paid_by_invoice(session, [i.id for i in listed if i.id is not None])
        owed = {i.number: outstanding(payable_of(i), credited.get(i.number, Decimal(0)),
                                      paid.get(i.id or 0, Decimal(0)))
                for i in listed if i.kind == "invoice"}
        counts = queries.decision_counts(session)
        return render(request, settings, "invoices.html", {
            "user": user,
            "invoices": listed,
            "owed": owed,
            "filter_labels": FILTER_LABELS,
            "chosen": chosen,
            "filtered": bool(chosen.year or chosen.status or chosen.network or chosen.organisation),
            "years": invoice_years(session),
            "networks": known_networks(session),
            "invoice_count": queries.count_invoices(session),
            "listed_total": sum((invoice.total for invoice in listed), Decimal(0)),
            "exempt_count": counts.get(Outcome.EXEMPT.value, 0),
            "no_policy_count": counts.get(Outcome.NO_POLICY.value, 0),
            "page_size": PAGE_SIZE,
        })

    @router.get("/invoices/{number}.pdf")
    def invoice_pdf(number: str, user: UserDep, session: SessionDep) -> Response:
        pdf = queries.get_pdf(session, number)
        if pdf is None:
            raise HTTPException(404, f"Fakturan {number} finns inte")
        return pdf_response(pdf, number)

    def invoice_page(request: Request, user: str, session: Session, number: str, *, error: str = "",
                     form: dict[str, str] | None = None, status_code: int = 200) -> Response:
        found = queries.get_invoice(session, number)
        if found is None:
            return templates.TemplateResponse(request, "not_found.html", {"user": user, "number": number},
                                              status_code=404)
        context: dict[str, Any] = {
            "user": user, "invoice": found, "document": queries.document_of(found),
            "ledger": ledger_for(session, found), "timeline": timeline(session, found),
            "error": error, "form": form or {"amount": "", "paid_on": today().isoformat(),
                                             "reference": found.ocr},
        }
        return render(request, settings, "invoice.html", context, status_code=status_code)

    @router.get("/invoices/{number}")
    def invoice(number: str, request: Request, user: UserDep, session: SessionDep) -> Response:
        return invoice_page(request, user, session, number)

    @router.post("/invoices/{number}/payments")
    async def add_payment(number: str, request: Request, user: UserDep, session: SessionDep) -> Response:
        form = await request.form()
        values = {name: form_text(form, name, 100) for name in ("amount", "paid_on", "reference")}
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return invoice_page(request, user, session, number, form=values, status_code=400,
                                error="Formuläret har gått ut. Ladda om sidan och försök igen.")
        try:
            register_payment(engine, number=number, amount=values["amount"], paid_on=values["paid_on"],
                             reference=values["reference"], actor=actor_of(request, user), now=clock())
        except PaymentError as error:
            return invoice_page(request, user, session, number, error=str(error), form=values,
                                status_code=400)
        request.app.state.runtime.relay.notify()  # invoice.paid, if it is, goes out now
        return RedirectResponse(f"/invoices/{number}?klart=betalning", status_code=303)

    @router.get("/decisions")
    def decisions(request: Request, user: UserDep, session: SessionDep,
                  outcome: Annotated[str, Query(max_length=20)] = "") -> Response:
        outcome = outcome if outcome in OUTCOME_LABELS else ""
        return templates.TemplateResponse(request, "decisions.html", {
            "user": user,
            "decisions": queries.list_decisions(session, outcome=outcome or None),
            "counts": queries.decision_counts(session),
            "outcome": outcome,
            # Policy files loaded or changed (audited at start): the rules these decisions follow.
            "entries": recent_entries(session, limit=50, subject_prefix="policy:"),
        })

    return router
