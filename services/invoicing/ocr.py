"""Bankgiro OCR references: built from the invoice number, checked when a payment comes in.

The reference is the invoice number's digits, then a length digit, then a
Luhn (modulus 10) check digit over everything before it. The length digit
is the whole reference's length, check digit included, modulo 10: Bankgirot's
"hard" OCR check, which also catches a dropped or added digit that Luhn alone
may miss. ``2018-00042`` → ``201800042`` + ``1`` (11 digits) + Luhn digit.

Pure functions: the payments matcher calls ``valid_ocr`` on the reference of
each BgMax payment before looking up the invoice.
"""

from __future__ import annotations

from stdnum import luhn

from shared.digits import is_digits, only_digits

MAX_LENGTH = 25  # Bankgirot's limit for an OCR reference
MIN_LENGTH = 3  # at least one digit of the number, the length digit and the check digit


def ocr_reference(invoice_number: str) -> str:
    """The OCR reference for an invoice number such as ``2026-00001``."""
    digits = only_digits(invoice_number)
    if not digits:
        raise ValueError(f"invoice number {invoice_number!r} has no digits")
    body = digits + str((len(digits) + 2) % 10)
    reference = body + luhn.calc_check_digit(body)
    if len(reference) > MAX_LENGTH:
        raise ValueError(f"an OCR reference has at most {MAX_LENGTH} digits")
    return reference


def valid_ocr(text: str) -> bool:
    """True if ``text`` is a well-formed OCR reference: digits only, right length digit, right Luhn digit.

    Surrounding whitespace is ignored (BgMax pads the reference field);
    anything else that is not a digit makes it invalid.
    """
    reference = text.strip()
    return (is_digits(reference) and MIN_LENGTH <= len(reference) <= MAX_LENGTH
            and int(reference[-2]) == len(reference) % 10 and luhn.is_valid(reference))


def invoice_digits(reference: str) -> str:
    """The invoice number's digits in a valid reference (length and check digit removed)."""
    if not valid_ocr(reference):
        raise ValueError(f"{reference!r} is not a valid OCR reference")
    return reference.strip()[:-2]
