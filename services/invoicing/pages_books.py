"""Finance's exports for the books (CSV, SIE 4I, PDF ZIP) and the board's summary with network costs."""

# No "from __future__ import annotations": FastAPI must resolve the Annotated
# dependency aliases defined inside the router factories at runtime.

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine
from sqlmodel import Session

from services.invoicing.api import session_dependency
from services.invoicing.costs import CostError, parse_year, set_network_cost
from services.invoicing.exports.books import (
    Period,
    PeriodError,
    invoices_csv,
    lines_csv,
    parse_period,
    pdf_zip,
    sie_file,
)
from services.invoicing.exports.sie import Accounts
from services.invoicing.finance_queries import costs_for, known_networks, summary_years, year_summary
from services.invoicing.pagekit import actor_of, form_text, render
from services.invoicing.settings import InvoicingSettings
from services.invoicing.summary import YearSummary, bar_chart
from shared.audit import entries_for
from shared.digits import is_digits
from shared.events import utc_now
from shared.money import format_sek
from shared.web import csrf_valid, staff_page

EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."
# Costs not split by network (the 2017 figure is one total) are entered on this pseudo-network.
ALL_NETWORKS = ("alla", "Alla nätverk (ej fördelat)")


def accounts_from(settings: InvoicingSettings) -> Accounts:
    return Accounts(
        receivable=settings.sie_account_receivable, revenue=settings.sie_account_revenue,
        bank=settings.sie_account_bank, rounding=settings.sie_account_rounding,
        vat={Decimal("0.25"): settings.sie_account_vat_25, Decimal("0.12"): settings.sie_account_vat_12,
             Decimal("0.06"): settings.sie_account_vat_6})


def download(content: bytes, filename: str, media_type: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def books_router(settings: InvoicingSettings, engine: Engine,
                 clock: Callable[[], datetime] = utc_now) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    FinanceDep = Annotated[str, Depends(staff_page(settings, "finance"))]
    # The secretariat enters what the networks cost; finance sees it too.
    CostsDep = Annotated[str, Depends(staff_page(settings, "staff", "finance"))]
    SessionDep = Annotated[Session, Depends(session_dependency(engine))]
    zone = ZoneInfo(settings.timezone)

    def today() -> date:
        return clock().astimezone(zone).date()

    def exports_page(request: Request, user: str, start: str, end: str, error: str = "",
                     status_code: int = 200) -> Response:
        return render(request, settings, "exports.html", {
            "user": user, "start": start, "end": end, "error": error, "accounts": accounts_from(settings),
        }, status_code=status_code)

    @router.get("/exports")
    def exports(request: Request, user: FinanceDep,
                start: Annotated[str, Query(alias="from", max_length=10)] = "",
                end: Annotated[str, Query(alias="to", max_length=10)] = "") -> Response:
        if not start and not end:
            start, end = f"{today().year}-01-01", f"{today().year}-12-31"
        return exports_page(request, user, start, end)

    def period_or_page(request: Request, user: str, start: str, end: str) -> Period | Response:
        try:
            return parse_period(start, end)
        except PeriodError as error:
            return exports_page(request, user, start, end, str(error), status_code=400)

    @router.get("/exports/{name}")
    def export_file(name: str, request: Request, user: FinanceDep, session: SessionDep,
                    start: Annotated[str, Query(alias="from", max_length=10)] = "",
                    end: Annotated[str, Query(alias="to", max_length=10)] = "") -> Response:
        period = period_or_page(request, user, start, end)
        if isinstance(period, Response):
            return period
        if name == "fakturor.csv":
            return download(invoices_csv(session, period), f"fakturor_{period.slug}.csv", "text/csv")
        if name == "fakturarader.csv":
            return download(lines_csv(session, period), f"fakturarader_{period.slug}.csv", "text/csv")
        if name == "verifikationer.se":
            content = sie_file(session, period, accounts=accounts_from(settings),
                               company=settings.seller_name, org_number=settings.seller_org_number,
                               generated_on=today())
            return download(content, f"verifikationer_{period.slug}.se", "text/plain; charset=IBM437")
        if name == "fakturor.zip":
            return download(pdf_zip(session, period), f"fakturor_{period.slug}.zip", "application/zip")
        return exports_page(request, user, start, end, f"Det finns ingen export som heter {name}.",
                            status_code=404)

    def summary_page(request: Request, user: str, session: Session, year: int, *, error: str = "",
                     form: dict[str, str] | None = None, status_code: int = 200) -> Response:
        summary = year_summary(session, year)
        years = sorted({*summary_years(session), year, today().year}, reverse=True)
        networks = [ALL_NETWORKS, *known_networks(session)]
        return render(request, settings, "summary.html", {
            "user": user, "year": year, "years": years, "summary": summary,
            "network_chart": network_chart(summary), "year_chart": year_chart(session, years),
            "networks": networks, "costs": costs_for(session, year),
            "log": entries_for(session, f"network-costs:{year}", limit=50),
            "error": error, "form": form or {"network": "", "amount": "", "note": ""},
        }, status_code=status_code)

    @router.get("/summary")
    def summary(request: Request, user: CostsDep, session: SessionDep,
                year: Annotated[str, Query(max_length=4)] = "") -> Response:
        chosen = int(year) if is_digits(year) and 2000 <= int(year) <= 2100 else today().year
        return summary_page(request, user, session, chosen)

    @router.post("/summary/costs")
    async def set_cost(request: Request, user: CostsDep, session: SessionDep) -> Response:
        form = await request.form()
        values = {name: form_text(form, name, 500) for name in ("year", "network", "amount", "note")}
        try:
            year = parse_year(values["year"])
        except CostError as error:
            return summary_page(request, user, session, today().year, error=str(error), form=values,
                                status_code=400)
        if not csrf_valid(request, form_text(form, "csrf_token")):
            return summary_page(request, user, session, year, error=EXPIRED, form=values, status_code=400)
        try:
            set_network_cost(engine, year=year, network_code=values["network"],
                             networks=dict([ALL_NETWORKS, *known_networks(session)]), amount=values["amount"],
                             note=values["note"], actor=actor_of(request, user), now=clock())
        except CostError as error:
            return summary_page(request, user, session, year, error=str(error), form=values, status_code=400)
        return RedirectResponse(f"/summary?year={year}&klart=kostnad", status_code=303)

    def year_chart(session: Session, years: list[int]) -> object:
        groups = []
        for each in sorted(years):
            totals = year_summary(session, each)
            invoiced, cost = totals.total("invoiced"), totals.total("cost")
            if invoiced or cost:
                groups.append((str(each), [
                    (invoiced, "bar-fees", f"{each}: avgifter {format_sek(invoiced)}"),
                    (cost, "bar-costs", f"{each}: kostnader {format_sek(cost)}")]))
        return bar_chart(groups) if groups else None

    return router


def network_chart(summary: YearSummary) -> object:
    groups = [(row.network_name, [
        (row.invoiced, "bar-fees", f"{row.network_name}: avgifter {format_sek(row.invoiced)}"),
        (row.cost or Decimal(0), "bar-costs",
         f"{row.network_name}: kostnad {format_sek(row.cost or Decimal(0))}")])
        for row in summary.networks if row.invoiced or row.cost]
    return bar_chart(groups, group_width=140) if groups else None
