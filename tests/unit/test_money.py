"""Money is Decimal, rounded half up to whole öre, and printed the Swedish way."""

from decimal import Decimal

import pytest

from shared.money import format_sek, money, vat_of


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
