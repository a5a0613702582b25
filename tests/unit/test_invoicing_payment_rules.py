"""Payment rules, pure: amounts as finance types them, matching by OCR, an invoice's status, overdue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.ocr import ocr_reference
from services.invoicing.overdue import is_overdue
from services.invoicing.payments.matching import (
    AmountError,
    Match,
    becomes_settled,
    match_reference,
    next_status,
    outstanding,
    parse_amount,
    payment_status,
)


@pytest.mark.parametrize(("text", "amount"), [
    ("1 234,50", "1234.50"), ("1234.50", "1234.50"), ("1234,5", "1234.50"), ("1234", "1234.00"),
    ("1\u00a0234\u00a0567,89", "1234567.89"), (" 5000,00 ", "5000.00"), ("0,01", "0.01"),
    ("12 345", "12345.00"),
])
def test_amounts_in_swedish_and_plain_format_are_read_exactly(text: str, amount: str) -> None:
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize(("text", "words"), [
    ("", "Ange ett belopp"), ("1,234.50", "inget belopp"), ("1.234,50", "inget belopp"),
    ("12,345", "inget belopp"), ("1 23,00", "inget belopp"), ("5000 kr", "inget belopp"),
    ("-100", "inget belopp"), ("1e3", "inget belopp"), ("0,00", "större än noll"), ("NaN", "inget belopp"),
    ("99999999999", "orimligt stort"),
])
def test_anything_else_is_refused_with_a_swedish_message(text: str, words: str) -> None:
    with pytest.raises(AmountError, match=words):
        parse_amount(text)


def test_a_payment_matches_the_invoice_whose_ocr_is_its_reference() -> None:
    ocr = ocr_reference("2018-00001")
    known = {ocr: "2018-00001"}
    assert match_reference(ocr, known) == Match("2018-00001")
    assert match_reference(f" {ocr[:4]} {ocr[4:]} ", known) == Match("2018-00001"), "spaces as on a slip"


def test_an_unknown_ocr_or_a_reference_that_is_no_ocr_is_left_unmatched_with_the_reason() -> None:
    unknown = ocr_reference("2018-00099")
    assert match_reference(unknown, {}) == Match(None, f"Okänt OCR-nummer {unknown}")
    broken = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)  # a wrong check digit
    assert match_reference(broken, {broken: "2018-00099"}).reason.endswith("inte ett giltigt OCR-nummer")
    assert match_reference("Faktura 1", {}).invoice_number is None
    assert match_reference("", {}).reason == "Referensen (tom) är inte ett giltigt OCR-nummer"


def test_the_status_follows_what_was_paid_against_what_is_due() -> None:
    total = Decimal("5000.00")
    assert payment_status(total, Decimal(0), Decimal(0)) == "issued"
    assert payment_status(total, Decimal(0), Decimal("4999.99")) == "partly_paid"
    assert payment_status(total, Decimal(0), Decimal("5000.00")) == "paid"
    assert payment_status(total, Decimal(0), Decimal("5000.01")) == "overpaid"
    # A credit note of half the invoice halves what is due.
    assert payment_status(total, Decimal("-2500.00"), Decimal("2500.00")) == "paid"
    assert outstanding(total, Decimal("-2500.00"), Decimal("1000.00")) == Decimal("1500.00")
    assert outstanding(total, Decimal(0), Decimal("6000.00")) == Decimal("0.00")


def test_a_status_another_rule_owns_is_kept_and_paid_is_announced_only_on_the_way_in() -> None:
    assert next_status("credited", Decimal("5000"), Decimal("-5000"), Decimal("10")) == "credited"
    # Partly credited: kept until money comes in, then how far what is left is paid.
    assert next_status("partly_credited", Decimal("5000"), Decimal("-2500"), Decimal(0)) == "partly_credited"
    assert next_status("partly_credited", Decimal("5000"), Decimal("-2500"), Decimal("2500")) == "paid"
    assert next_status("issued", Decimal("5000"), Decimal(0), Decimal("5000")) == "paid"
    assert becomes_settled("partly_paid", "paid")
    assert becomes_settled("issued", "overpaid")
    assert not becomes_settled("paid", "overpaid")
    assert not becomes_settled("issued", "partly_paid")


def test_an_invoice_is_overdue_the_day_after_its_due_date_while_something_is_owed() -> None:
    due = date(2018, 3, 3)
    assert not is_overdue(due, date(2018, 3, 3), Decimal("1.00"))
    assert is_overdue(due, date(2018, 3, 4), Decimal("1.00"))
    assert not is_overdue(due, date(2018, 3, 4), Decimal("0.00"))
