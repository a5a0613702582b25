"""The sign-up handler on a SQLite file, with a fixed clock and a stand-in renderer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from services.invoicing.document import InvoiceDocument
from services.invoicing.handlers import InvoicingContext, invoice_signup, seller_from
from services.invoicing.models import MODELS, InvFeeDecision
from services.invoicing.settings import InvoicingSettings
from shared.db import create_tables, make_engine, transaction
from shared.events import InvoiceIssued, parse_event
from shared.outbox import OutboxMessage
from shared.policy import load_policies, parse_policy
from tests.support.invoicing import signup_event

NEW_YEARS_EVE_STOCKHOLM = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January in Sweden


def fake_pdf(document: InvoiceDocument) -> bytes:
    return b"%PDF-fake " + document.number.encode()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/handler.db")
    create_tables(engine, [*MODELS, OutboxMessage])
    return engine


def context(**overrides: object) -> InvoicingContext:
    settings = InvoicingSettings(environment="development")
    values: dict[str, object] = {"policies": load_policies(), "seller": seller_from(settings),
                                 "render_pdf": fake_pdf, "clock": lambda: NEW_YEARS_EVE_STOCKHOLM}
    values.update(overrides)
    return InvoicingContext(**values)  # type: ignore[arg-type]


def test_the_issue_date_and_series_follow_swedish_time_and_the_event_is_staged_in_the_outbox(
        engine: Engine) -> None:
    with transaction(engine) as session:
        invoice = invoice_signup(session, signup_event(1, [(1, "rus")]), context())
    assert invoice is not None
    assert (invoice.number, invoice.issue_date, invoice.due_date) == ("2027-00001", date(2027, 1, 1),
                                                                      date(2027, 1, 31))
    with Session(engine) as session:
        [row] = session.exec(select(OutboxMessage)).all()
    event = parse_event(row.payload)
    assert isinstance(event, InvoiceIssued)
    assert (event.number, event.total, event.correlation_id) == ("2027-00001", Decimal("5000.00"), "signup-1")


def test_payment_terms_come_from_configuration_and_the_vat_rate_from_the_policy(engine: Engine) -> None:
    reduced = parse_policy('year = 2027\nfee = "4000.00"\nvat_rate = "0.06"\n')
    with transaction(engine) as session:
        invoice = invoice_signup(session, signup_event(1, [(1, "rus")], year=2027),
                                 context(payment_terms_days=10, policies={2027: reduced}))
    assert invoice is not None
    assert invoice.due_date == date(2027, 1, 11)
    assert (invoice.vat, invoice.total) == (Decimal("240.00"), Decimal("4240.00"))
    assert json.loads(invoice.document)["vat_groups"][0]["rate"] == "0.06"


def test_rounding_to_whole_kronor_is_stated_as_oresavrundning(engine: Engine) -> None:
    odd = parse_policy('year = 2027\nfee = "1234.55"\n')  # 1234.55 + 308.64 VAT = 1543.19
    with transaction(engine) as session:
        invoice = invoice_signup(session, signup_event(1, [(1, "rus")], year=2027),
                                 context(policies={2027: odd}, round_to_krona=True))
    assert invoice is not None
    document = InvoiceDocument.model_validate_json(invoice.document)
    assert (document.total, document.rounding, document.payable) == (
        Decimal("1543.19"), Decimal("-0.19"), Decimal("1543.00"))


def test_a_membership_waiting_for_its_years_policy_is_billed_once_the_policy_exists(engine: Engine) -> None:
    with transaction(engine) as session:
        assert invoice_signup(session, signup_event(1, [(1, "rus")], year=2019), context()) is None
    with Session(engine) as session:
        [waiting] = session.exec(select(InvFeeDecision)).all()
    assert (waiting.outcome, waiting.reason) == ("no_policy", "Ingen avgiftspolicy för 2019")

    policies = {**load_policies(), 2019: parse_policy('year = 2019\nfee = "4500.00"\n')}
    with transaction(engine) as session:
        invoice = invoice_signup(session, signup_event(2, [(1, "rus")], year=2019, created=False),
                                 context(policies=policies))
    assert invoice is not None and invoice.net == Decimal("4500.00")
    with Session(engine) as session:
        [decided] = session.exec(select(InvFeeDecision)).all()
    assert (decided.outcome, decided.invoice_number, decided.signup_id) == ("invoiced", invoice.number, 2)
