"""OCR references in Bankgiro style: the invoice number's digits, a length digit, a Luhn digit."""

from __future__ import annotations

import pytest
from stdnum import luhn

from services.invoicing.ocr import invoice_digits, ocr_reference, valid_ocr


def test_the_reference_is_the_numbers_digits_then_length_then_check_digit() -> None:
    reference = ocr_reference("2026-00001")
    assert reference[:9] == "202600001"
    assert reference[9] == "1"  # 11 digits in all, modulo 10
    assert reference == "2026000011" + luhn.calc_check_digit("2026000011")


@pytest.mark.parametrize("number", ["2026-00001", "2026-00042", "2026-99999", "2027-123456", "1-1"])
def test_every_reference_passes_the_luhn_and_length_checks(number: str) -> None:
    reference = ocr_reference(number)
    assert luhn.validate(reference) == reference
    assert int(reference[-2]) == len(reference) % 10
    assert valid_ocr(reference)


def test_a_mistyped_reference_is_caught() -> None:
    reference = ocr_reference("2026-00042")
    swapped = reference[:3] + reference[4] + reference[3] + reference[5:]
    dropped = reference[:2] + reference[3:]
    assert not valid_ocr(swapped)
    assert not valid_ocr(dropped)


def test_a_number_without_digits_has_no_reference() -> None:
    with pytest.raises(ValueError):
        ocr_reference("ABC-")


def test_the_2018_example_is_built_digit_by_digit() -> None:
    # 2018-00042: digits 201800042 (9), length digit 1 (11 digits in all), Luhn digit over 2018000421.
    assert ocr_reference("2018-00042") == "2018000421" + luhn.calc_check_digit("2018000421")
    assert ocr_reference("2018-00042") == "20180004218"


@pytest.mark.parametrize("text", ["", "12", "2018000421", "20180004219", "201800042 18", "2018-0004218",
                                  "٢٠١٨٠٠٠٤٢١٨", "1" * 26, "20180004208"])
def test_valid_ocr_refuses_anything_that_is_not_a_well_formed_reference(text: str) -> None:
    assert not valid_ocr(text)


def test_valid_ocr_ignores_the_padding_a_bank_file_adds() -> None:
    assert valid_ocr("  20180004218   ")
    assert invoice_digits(" 20180004218 ") == "201800042"


def test_the_invoice_digits_of_an_invalid_reference_are_refused() -> None:
    with pytest.raises(ValueError):
        invoice_digits("20180004219")
