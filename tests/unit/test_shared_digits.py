"""Only ASCII digits count as digits: what int() takes, nothing else."""

from __future__ import annotations

import pytest

from services.invoicing.costs import CostError, parse_year
from shared.digits import is_digits, only_digits


@pytest.mark.parametrize("text", ["0", "2018", "0000000001"])
def test_ascii_digits_are_digits(text: str) -> None:
    assert is_digits(text) and int(text) >= 0


@pytest.mark.parametrize("text", ["", "²", "20¹8", "٢٠١٨", "２０１８", " 2018", "2018 ", "-1", "1.0"])
def test_other_digits_and_signs_are_not(text: str) -> None:
    assert not is_digits(text)


def test_only_digits_keeps_0_to_9_in_order() -> None:
    assert only_digits("232100-0016") == "2321000016"
    assert only_digits("SE²12³") == "12"
    assert only_digits("") == ""


def test_a_staff_year_with_a_superscript_is_refused_with_a_message() -> None:
    with pytest.raises(CostError, match="Året ska vara"):
        parse_year("201²")
