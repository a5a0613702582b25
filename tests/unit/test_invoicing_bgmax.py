"""Bankgirot's BgMax file: a strict parser that refuses a malformed file whole, naming the line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.payments.bgmax import BgMaxError, parse_bgmax
from tests.support.bgmax import BgMaxBuilder, Deposit, Payment, bgmax_file


def two_payments() -> bytes:
    return bgmax_file(
        Payment("2018000017", Decimal("5000.00"), "000000000101", name="Region Jämtland Härjedalen",
                org_number="2321000016", information="Medlemsavgift"),
        Payment("ABC 123", Decimal("1234.50"), "000000000102", reference_code="5"),
    )


def test_a_file_with_one_deposit_gives_its_payments_with_amounts_in_kronor() -> None:
    parsed = parse_bgmax(two_payments())
    assert parsed.version == "01"
    assert not parsed.test
    [deposit] = parsed.deposits
    assert deposit.receiver_bankgiro == "50501055"
    assert deposit.payment_date == date(2018, 3, 1)
    assert deposit.total == Decimal("6234.50")
    first, second = deposit.payments
    assert (first.reference, first.amount) == ("2018000017", Decimal("5000.00"))
    assert first.bgc_serial == "000000000101"
    assert first.payer_name == "Region Jämtland Härjedalen"
    assert first.payer_org_number == "2321000016"
    assert first.information == ["Medlemsavgift"]
    assert (second.reference, second.amount, second.reference_code) == ("ABC 123", Decimal("1234.50"), "5")


def test_a_deduction_is_a_negative_amount_and_the_deposit_total_is_net_of_it() -> None:
    data = bgmax_file(Payment("2018000017", Decimal("5000.00"), "1"),
                      Payment("2018000017", Decimal("200.00"), "2", deduction=True))
    [deposit] = parse_bgmax(data).deposits
    assert [p.amount for p in deposit.payments] == [Decimal("5000.00"), Decimal("-200.00")]
    assert deposit.total == Decimal("4800.00")


def test_several_deposits_are_read_in_order() -> None:
    data = BgMaxBuilder([Deposit([Payment("1", Decimal("1.00"), "1")], serial="00001"),
                         Deposit([Payment("2", Decimal("2.00"), "2")], serial="00002")]).build()
    assert [d.serial for d in parse_bgmax(data).deposits] == ["00001", "00002"]


def test_lf_line_endings_are_accepted_as_well_as_crlf() -> None:
    data = two_payments().replace(b"\r\n", b"\n")
    assert len(parse_bgmax(data).payments) == 2


def replace_line(data: bytes, index: int, record: str) -> bytes:
    lines = data.decode("iso-8859-1").split("\r\n")
    lines[index] = record
    return "\r\n".join(lines).encode("iso-8859-1")


def expect_error(data: bytes, line: int, words: str) -> None:
    with pytest.raises(BgMaxError) as raised:
        parse_bgmax(data)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"Rad {line}:") if line else True
    assert words in str(raised.value), str(raised.value)


def test_a_record_of_the_wrong_length_is_refused_with_its_line_number() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    expect_error(replace_line(two_payments(), 2, lines[2].rstrip()), 3, "80 tecken")


def test_an_amount_with_letters_is_refused() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    bad = lines[2][:37] + "00000000000000500X" + lines[2][55:]
    expect_error(replace_line(two_payments(), 2, bad), 3, "Beloppet ska vara siffror")


def test_a_superscript_digit_is_refused_not_a_crash() -> None:
    """ISO 8859-1 has ² ³ ¹, which str.isdigit() accepts and int() does not (found by the fuzzer)."""
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    bad = lines[2][:37] + "0000000000000050²0" + lines[2][55:]
    expect_error(replace_line(two_payments(), 2, bad), 3, "Beloppet ska vara siffror")


def test_counts_that_do_not_match_the_end_record_are_refused() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    end_index = len(lines) - 2
    bad_end = "70" + "00000003" + lines[end_index][10:]
    expect_error(replace_line(two_payments(), end_index, bad_end), end_index + 1,
                 "Slutposten anger 3 betalningsposter (TK20), men filen har 2")


def test_a_deposit_total_that_does_not_match_its_payments_is_refused() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("15"))
    bad = lines[index][:50] + "000000000000000001" + lines[index][68:]
    expect_error(replace_line(two_payments(), index, bad), index + 1, "stämmer inte med betalningarnas summa")


def test_a_file_without_its_end_record_is_refused_as_cut_short() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")[:-2]
    expect_error(("\r\n".join(lines) + "\r\n").encode("iso-8859-1"), len(lines), "saknar slutpost")


def test_a_file_that_is_not_bgmax_is_refused_at_line_one() -> None:
    expect_error(b"Datum;Belopp;Referens\r\n", 1, "80 tecken")
    not_bgmax = ("01" + "BGMIN".ljust(20) + "01" + "2" * 20 + "P").ljust(80) + "\r\n"
    expect_error(not_bgmax.encode(), 1, "inte BGMAX")
    expect_error(b"", 0, "tom")


def test_an_unknown_transaction_code_is_refused() -> None:
    expect_error(replace_line(two_payments(), 2, "99".ljust(80)), 3, "Okänd transaktionskod")


def test_a_payment_outside_a_deposit_is_refused() -> None:
    lines = two_payments().decode("iso-8859-1").split("\r\n")
    del lines[1]  # the opening record TK05
    expect_error("\r\n".join(lines).encode("iso-8859-1"), 2, "saknar öppningspost")


def test_a_test_file_is_refused_unless_allowed() -> None:
    builder = BgMaxBuilder([Deposit([Payment("1", Decimal("1.00"), "1")])], marker="T")
    expect_error(builder.build(), 1, "testfil")
    assert parse_bgmax(builder.build(), allow_test=True).test


def test_the_file_is_read_as_iso_8859_1() -> None:
    data = two_payments()
    assert "Jämtland".encode("iso-8859-1") in data
    assert parse_bgmax(data).deposits[0].payments[0].payer_name.startswith("Region Jämtland")


def test_extra_references_belong_to_the_payment_before_them() -> None:
    data = bgmax_file(Payment("2018000017", Decimal("9000.00"), "1", extra_references=["2018000025"]))
    [payment] = parse_bgmax(data).deposits[0].payments
    assert payment.extra_references == [("2018000025", Decimal("0.00"))]
