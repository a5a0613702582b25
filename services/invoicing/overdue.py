"""``invoice.overdue``: once a day, for every invoice past its due date with money still owed.

A row per (invoice, day) in ``inv_overdue_notice`` is written in the same
transaction as the event (outbox); it is unique, so two instances, a restart or
the command run by hand never publish the same invoice twice on one day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.models import InvInvoice
from services.invoicing.payments.handlers import organisation_of
from services.invoicing.payments.ledger import credited_by_number, paid_by_invoice, payable_of
from services.invoicing.payments.matching import SETTLED, outstanding
from services.invoicing.payments.models import InvOverdueNotice
from shared.db import transaction
from shared.events import InvoiceOverdue
from shared.outbox import add_event
from shared.threads import finish_in_thread

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OverdueCandidate:
    invoice_id: int
    number: str
    outstanding: Decimal


def is_overdue(due_date: date, as_of: date, owed: Decimal) -> bool:
    """Past due (the due date itself is still on time) and something left to pay."""
    return due_date < as_of and owed > 0


def overdue_candidates(session: Session, as_of: date) -> list[OverdueCandidate]:
    invoices = list(session.exec(
        select(InvInvoice).where(InvInvoice.kind == "invoice", col(InvInvoice.due_date) < as_of,
                                 col(InvInvoice.status).not_in(list(SETTLED)))
        .order_by(col(InvInvoice.id))))
    if not invoices:
        return []
    credited = credited_by_number(session)
    paid = paid_by_invoice(session, [i.id for i in invoices if i.id is not None])
    found = []
    for invoice in invoices:
        assert invoice.id is not None
        owed = outstanding(payable_of(invoice), credited.get(invoice.number, Decimal(0)),
                           paid.get(invoice.id, Decimal(0)))
        if is_overdue(invoice.due_date, as_of, owed):
            found.append(OverdueCandidate(invoice.id, invoice.number, owed))
    return found


def publish_overdue(engine: Engine, as_of: date, now: datetime) -> list[str]:
    """Publish ``invoice.overdue`` for each overdue invoice not yet noticed on ``as_of``; their numbers."""
    with Session(engine) as session:
        candidates = overdue_candidates(session, as_of)
        noticed = set(session.exec(
            select(InvOverdueNotice.invoice_id).where(InvOverdueNotice.as_of == as_of)))
    published: list[str] = []
    for candidate in candidates:
        if candidate.invoice_id in noticed:
            continue
        try:
            with transaction(engine) as session:
                invoice = session.get(InvInvoice, candidate.invoice_id)
                assert invoice is not None
                session.add(InvOverdueNotice(invoice_id=candidate.invoice_id, as_of=as_of,
                                             outstanding=candidate.outstanding, published_at=now))
                session.flush()  # the unique (invoice, day) refuses a second notice here
                document = InvoiceDocument.model_validate_json(invoice.document)
                add_event(session, InvoiceOverdue(
                    occurred_at=now, correlation_id=invoice.correlation_id, number=invoice.number,
                    organisation=organisation_of(document), issue_date=invoice.issue_date,
                    due_date=invoice.due_date, as_of=as_of, total=document.payable,
                    outstanding=candidate.outstanding, ocr=invoice.ocr))
        except IntegrityError:
            continue  # another instance noticed it first today
        published.append(candidate.number)
    if published:
        log.info("overdue invoices published", as_of=as_of.isoformat(), count=len(published))
    return published


def overdue_loop(engine: Engine, clock: Callable[[], datetime], timezone: ZoneInfo, interval_seconds: float,
                 after_commit: Callable[[], None] | None = None,
                 ) -> Callable[[], Coroutine[Any, Any, None]]:
    """The background task: look every ``interval_seconds``; each day's notices go out once."""

    async def run() -> None:
        while True:
            now = clock()
            try:
                published = await finish_in_thread(
                    publish_overdue, engine, now.astimezone(timezone).date(), now)
                if published and after_commit is not None:
                    after_commit()
            except Exception:
                log.exception("overdue check failed; will retry")
            await asyncio.sleep(interval_seconds)

    return run
