"""Money is Decimal, rounded half up to whole öre, and printed the Swedish way."""

from decimal import Decimal

import pytest

from shared.money import Totals, VatGroup, compute_totals, format_sek, krona_rounding, money, vat_of


def test_rounding_is_half_up_not_bankers() -> None:
    assert money("0.125") == Decimal("0.13")
    assert money("0.135") == Decimal("0.14")
    assert money("-0.125") == Decimal("-0.13")


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        money(0.1)  # type: ignore[arg-type]


def test_vat_at_25_percent_on_the_fee() -> None:
    assert vat_of(Decimal("4000.00"), Decimal("0.25")) == Decimal("1000.00")
    assert vat_of(Decimal("0.10"), Decimal("0.25")) == Decimal("0.03")


def test_swedish_format_groups_thousands_and_uses_a_decimal_comma() -> None:
    assert format_sek(Decimal("10000")) == "10\u00a0000,00\u00a0kr"
    assert format_sek(Decimal("4000"), decimals=False) == "4\u00a0000\u00a0kr"
    assert format_sek(Decimal("-5000.5")) == "−5\u00a0000,50\u00a0kr"


D = Decimal


@pytest.mark.parametrize(("total", "rounding"), [
    ("1543.19", "-0.19"), ("1543.50", "0.50"), ("1543.49", "-0.49"), ("1543.00", "0.00"),
    ("-1543.50", "-0.50"), ("-1543.19", "0.19"), ("0.49", "-0.49"),
])
def test_oresavrundning_rounds_the_total_half_up_to_whole_kronor(total: str, rounding: str) -> None:
    assert krona_rounding(D(total)) == D(rounding)
    assert (D(total) + krona_rounding(D(total))) % 1 == 0


def test_totals_round_to_kronor_only_when_asked() -> None:
    lines = [(D("1234.55"), D("0.25"))]
    assert compute_totals(lines).rounding == D("0.00")
    rounded = compute_totals(lines, round_to_krona=True)
    assert (rounded.total, rounded.rounding, rounded.payable) == (D("1543.19"), D("-0.19"), D("1543.00"))


@pytest.mark.parametrize(("changes", "message"), [
    ({"total": D("125.01")}, "!= total"),
    ({"vat": D("25.01"), "total": D("125.01")}, "VAT groups' VAT"),
    ({"net": D("100.001"), "total": D("125.001")}, "whole öre"),
    ({"rounding": D("0.40")}, "not the öresavrundning"),
    ({"groups": (VatGroup(D("0.25"), D("100.00"), D("24.00")), VatGroup(D("0.06"), D("0.00"), D("1.00")))},
     "is not 0.25 of 100.00"),
])
def test_the_totals_value_object_refuses_amounts_that_do_not_add_up(changes: dict[str, object],
                                                                    message: str) -> None:
    values: dict[str, object] = {"net": D("100.00"), "vat": D("25.00"), "total": D("125.00"),
                                 "groups": (VatGroup(D("0.25"), D("100.00"), D("25.00")),)}
    values.update(changes)
    with pytest.raises(ValueError, match=message):
        Totals(**values)  # type: ignore[arg-type]


def test_a_credit_notes_negative_lines_round_like_the_invoice_they_negate() -> None:
    invoice = compute_totals([(D("33.33"), D("0.25"))] * 3, round_to_krona=True)
    credit = compute_totals([(D("-33.33"), D("0.25"))] * 3, round_to_krona=True)
    assert (credit.net, credit.vat, credit.total, credit.rounding) == (
        -invoice.net, -invoice.vat, -invoice.total, -invoice.rounding)
