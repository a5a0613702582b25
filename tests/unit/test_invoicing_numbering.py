"""Invoice numbers: one counter per series, next number is always last + 1, no gaps, no duplicates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from services.invoicing.domain import format_invoice_number, next_sequence, series_for
from services.invoicing.models import MODELS, InvInvoice
from services.invoicing.numbering import lock_series, take_number
from shared.db import create_tables, make_engine, transaction


def test_the_next_number_is_one_more_and_numbers_read_year_dash_five_digits() -> None:
    assert next_sequence(0) == 1
    assert next_sequence(41) == 42
    assert series_for(date(2026, 12, 31)) == "2026"
    assert format_invoice_number("2026", 1) == "2026-00001"
    assert format_invoice_number("2026", 123456) == "2026-123456"
    with pytest.raises(ValueError):
        format_invoice_number("2026", 0)
    with pytest.raises(ValueError):
        next_sequence(-1)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/numbers.db")
    create_tables(engine, MODELS)
    return engine


def take(engine: Engine, series: str) -> str:
    with transaction(engine) as session:
        return take_number(session, lock_series(session, series))[1]


def test_numbers_follow_each_other_per_series(engine: Engine) -> None:
    assert [take(engine, "2026") for _ in range(3)] == ["2026-00001", "2026-00002", "2026-00003"]
    assert take(engine, "2027") == "2027-00001"
    assert take(engine, "2026") == "2026-00004"


def test_a_rolled_back_invoice_gives_its_number_back(engine: Engine) -> None:
    assert take(engine, "2026") == "2026-00001"
    with pytest.raises(RuntimeError), transaction(engine) as session:
        take_number(session, lock_series(session, "2026"))
        raise RuntimeError("rendering failed")
    assert take(engine, "2026") == "2026-00002"


def invoice_row(number: str, sequence: int) -> InvInvoice:
    zero = Decimal("0.00")
    return InvInvoice(number=number, series="2026", sequence=sequence, source_event_id="e",
                      correlation_id="c",
                      organisation_id=1, buyer_name="B", buyer_org_number="1", buyer_org_digits="1",
                      buyer_email="b@x.example", issue_date=date(2026, 1, 1), due_date=date(2026, 1, 31),
                      net=zero, vat=zero, total=zero, ocr="0", document="{}", issued_at=datetime.now(UTC))


def test_the_database_refuses_a_second_invoice_with_the_same_sequence(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(invoice_row("2026-00001", 1))
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.add(invoice_row("2026-00001-bis", 1))
        session.commit()
