"""Signed links, the audit log helper and CSV formula defusing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, SQLModel, create_engine

from shared.audit import AuditEntry, entries_for, record_act
from shared.csv_export import defuse, write_csv
from shared.links import LinkInvalid, sign_link, verify_link

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_link_round_trips_before_it_expires() -> None:
    token = sign_link("k" * 32, "meeting-signup", {"m": 7, "c": 3}, NOW + timedelta(days=1))
    assert verify_link("k" * 32, "meeting-signup", token, NOW) == {"m": 7, "c": 3}


def test_a_link_is_refused_after_expiry_for_another_purpose_or_key_or_when_altered() -> None:
    token = sign_link("k" * 32, "meeting-signup", {"m": 7}, NOW + timedelta(hours=1))
    with pytest.raises(LinkInvalid, match="gått ut"):
        verify_link("k" * 32, "meeting-signup", token, NOW + timedelta(hours=1))
    with pytest.raises(LinkInvalid):
        verify_link("k" * 32, "unsubscribe", token, NOW)
    with pytest.raises(LinkInvalid):
        verify_link("x" * 32, "meeting-signup", token, NOW)
    with pytest.raises(LinkInvalid):
        verify_link("k" * 32, "meeting-signup", token[:-2] + "AA", NOW)


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_link("k" * 32, "p", {}, datetime(2026, 1, 1))


@pytest.mark.parametrize("cell", ["=1+1", "+46", "-2+3", "@SUM(A1)", "\t=x", "=HYPERLINK(\"http://x\")"])
def test_formula_cells_are_defused(cell: str) -> None:
    assert defuse(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-4000.00", "4000", "Region Skåne", "", "556123-4567"])
def test_plain_values_are_left_alone(cell: str) -> None:
    assert defuse(cell) == cell


def test_csv_has_bom_semicolons_and_defused_cells() -> None:
    data = write_csv(["namn", "belopp"], [["=cmd|' /C calc'!A0", "-4000.00"]]).decode("utf-8")
    assert data.startswith("\ufeffnamn;belopp\r\n")
    assert "'=cmd" in data and ";-4000.00" in data


def test_audit_entries_are_listed_per_subject_newest_first() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[AuditEntry.__table__])  # type: ignore[attr-defined]
    with Session(engine) as session:
        record_act(session, actor="anna", action="payment.register", subject="invoice:2026-00001",
                   detail="1000.00", remote_addr="127.0.0.1", at=NOW)
        record_act(session, actor="bo", action="invoice.credit", subject="invoice:2026-00001",
                   at=NOW + timedelta(minutes=1))
        record_act(session, actor="bo", action="invoice.credit", subject="invoice:2026-00002", at=NOW)
        session.commit()
        assert [e.actor for e in entries_for(session, "invoice:2026-00001")] == ["bo", "anna"]
