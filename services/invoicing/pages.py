"""Finance's pages behind the staff login: invoices, one invoice, its PDF, and the fee decisions."""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from decimal import Decimal
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import Engine
from sqlmodel import Session

from services.invoicing import queries
from services.invoicing.api import pdf_response, session_dependency
from services.invoicing.domain import Outcome, format_org_number, format_rate
from services.invoicing.settings import InvoicingSettings
from shared.web import make_templates, staff_page

PAGE_SIZE = 200
OUTCOME_LABELS = {
    Outcome.INVOICED.value: "Fakturerad",
    Outcome.EXEMPT.value: "Avgiftsfri",
    Outcome.NO_POLICY.value: "Ingen avgiftspolicy",
    Outcome.CANCELLED.value: "Avslutat före fakturering",
}
STATUS_LABELS = {"issued": "Utställd", "credited": "Krediterad", "partly_credited": "Delvis krediterad"}


def pages_router(settings: InvoicingSettings, engine: Engine) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    templates = make_templates(Path(__file__).parent / "templates")
    templates.env.filters["rate"] = format_rate
    templates.env.filters["orgnr"] = format_org_number
    templates.env.globals.update(outcome_labels=OUTCOME_LABELS, status_labels=STATUS_LABELS,
                                 registration_url=settings.registration_public_url.rstrip("/"))
    UserDep = Annotated[str, Depends(staff_page(settings, "finance"))]
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]

    @router.get("/")
    @router.get("/invoices")
    def invoices(request: Request, user: UserDep, session: SessionDep,
                 org_number: Annotated[str, Query(max_length=20)] = "") -> Response:
        org_number = org_number.strip()
        listed = queries.list_invoices(session, org_number=org_number or None, newest_first=True,
                                       limit=PAGE_SIZE)
        counts = queries.decision_counts(session)
        return templates.TemplateResponse(request, "invoices.html", {
            "user": user,
            "invoices": listed,
            "org_number": org_number,
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

    @router.get("/invoices/{number}")
    def invoice(number: str, request: Request, user: UserDep, session: SessionDep) -> Response:
        found = queries.get_invoice(session, number)
        if found is None:
            return templates.TemplateResponse(request, "not_found.html", {"user": user, "number": number},
                                              status_code=404)
        return templates.TemplateResponse(request, "invoice.html", {
            "user": user, "invoice": found, "document": queries.document_of(found),
        })

    @router.get("/decisions")
    def decisions(request: Request, user: UserDep, session: SessionDep,
                  outcome: Annotated[str, Query(max_length=20)] = "") -> Response:
        outcome = outcome if outcome in OUTCOME_LABELS else ""
        return templates.TemplateResponse(request, "decisions.html", {
            "user": user,
            "decisions": queries.list_decisions(session, outcome=outcome or None),
            "counts": queries.decision_counts(session),
            "outcome": outcome,
        })

    return router
