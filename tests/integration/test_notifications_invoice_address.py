"""Notifications keeps an invoice's address only while a payment reminder may still go to it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from services.notifications.invoices import on_issued, on_overdue, on_paid
from services.notifications.readmodels import InvoiceView
from shared.db import create_tables, make_engine, transaction
from shared.events import InvoiceOverdue, InvoicePaid
from tests.support.notifications import OCCURRED, invoice_event, organisation

ADDRESS = "faktura@region-varmland.example"


def overdue(number: str, as_of: date) -> InvoiceOverdue:
    return InvoiceOverdue(occurred_at=OCCURRED, correlation_id="c", number=number,
                          organisation=organisation(), issue_date=date(2018, 1, 15),
                          due_date=date(2018, 2, 14), as_of=as_of,
                          total=Decimal("5000.00"), outstanding=Decimal("5000.00"), ocr="100012018")


def test_the_address_is_cleared_once_the_invoice_is_paid_or_credited_and_not_brought_back(
        database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [InvoiceView])
    paid = InvoicePaid(occurred_at=OCCURRED, correlation_id="c", number="2018-00001",
                       organisation=organisation(), status="paid", total=Decimal("5000.00"),
                       paid_amount=Decimal("5000.00"),
                       paid_on=date(2018, 2, 20))
    credit_note = invoice_event(number="2018-00003").model_copy(
        update={"kind": "credit_note", "credited_number": "2018-00002"})
    with transaction(engine) as session:
        for number in ("2018-00001", "2018-00002", "2018-00004"):
            on_issued(session, invoice_event(number=number))
        on_overdue(session, overdue("2018-00001", date(2018, 2, 15)))
    with transaction(engine) as session:
        on_paid(session, paid)
        on_issued(session, credit_note)
    with transaction(engine) as session:  # a later day's overdue report, read before the payment
        on_overdue(session, overdue("2018-00001", date(2018, 2, 16)))
        on_overdue(session, overdue("2018-00002", date(2018, 2, 16)))
        on_overdue(session, overdue("2018-00004", date(2018, 2, 16)))

    with Session(engine) as session:
        rows = {row.number: (row.email, row.paid, row.credited) for row in session.exec(select(InvoiceView))}
    assert rows == {"2018-00001": ("", True, False), "2018-00002": ("", False, True),
                    "2018-00004": (ADDRESS, False, False)}, "an unpaid invoice's address is kept"
    engine.dispose()
