"""Pure payment rules: reading an amount as finance types it, matching a reference, an invoice's status.

No I/O and no clock: the handlers pass in what the database knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from services.invoicing.ocr import valid_ocr
from shared.digits import is_digits
from shared.money import money

# "1 234,50", "1234,50", "1234.50", "1 234" (a space or no-break space between thousands).
_GROUPED = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[,.]\d{1,2})?")
_PLAIN = re.compile(r"\d+(?:[,.]\d{1,2})?")
MAX_AMOUNT = Decimal("10000000.00")


class AmountError(ValueError):
    """An amount finance typed that is not one; the message is shown as it is (Swedish)."""


def parse_amount(text: str) -> Decimal:
    """``"1 234,50"`` or ``"1234.50"`` → ``Decimal("1234.50")``; anything else raises :class:`AmountError`.

    Thousands may be grouped with spaces; the decimal sign is a comma or a point,
    with at most two decimals. "1,234.50" is refused rather than guessed at.
    """
    cleaned = text.strip()
    if not cleaned:
        raise AmountError("Ange ett belopp, t.ex. 1 234,50.")
    if not (_GROUPED.fullmatch(cleaned) or _PLAIN.fullmatch(cleaned)):
        raise AmountError(f"”{cleaned[:40]}” är inget belopp. Skriv t.ex. 1 234,50 eller 1234.50 "
                          "(högst två decimaler, inga bokstäver).")
    digits = re.sub(r"[ \u00a0\u202f]", "", cleaned).replace(",", ".")
    try:
        amount = money(Decimal(digits))
    except InvalidOperation as error:  # pragma: no cover - the patterns above admit only numbers
        raise AmountError(f"”{cleaned[:40]}” är inget belopp.") from error
    if amount <= 0:
        raise AmountError("Beloppet måste vara större än noll.")
    if amount > MAX_AMOUNT:
        raise AmountError("Beloppet är orimligt stort; kontrollera det.")
    return amount


def reference_digits(reference: str) -> str:
    """An OCR reference as written on a payment slip may have spaces; only its digits count."""
    stripped = reference.replace(" ", "").strip()
    return stripped if is_digits(stripped) else ""


@dataclass(frozen=True)
class Match:
    """Which invoice a payment pays, or why none: ``invoice_number`` is None when unmatched."""

    invoice_number: str | None
    reason: str = ""


def match_reference(reference: str, invoice_by_ocr: dict[str, str]) -> Match:
    """Match by OCR only: a valid OCR of a known invoice. Anything else is left for finance to match."""
    digits = reference_digits(reference)
    if not digits or not valid_ocr(digits):
        shown = reference.strip() or "(tom)"
        return Match(None, f"Referensen {shown} är inte ett giltigt OCR-nummer")
    number = invoice_by_ocr.get(digits)
    if number is None:
        return Match(None, f"Okänt OCR-nummer {digits}")
    return Match(number)


class PaymentStatus(StrEnum):
    ISSUED = "issued"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    OVERPAID = "overpaid"


STATUS_LABELS = {
    "issued": "Obetald",
    "partly_paid": "Delbetald",
    "paid": "Betald",
    "overpaid": "Överbetald",
    "credited": "Krediterad",
    "partly_credited": "Delvis krediterad",
}

# The statuses payments decide; any other (e.g. "credited") belongs to another rule and is kept.
PAYMENT_STATUSES = frozenset(status.value for status in PaymentStatus)
SETTLED = frozenset({PaymentStatus.PAID.value, PaymentStatus.OVERPAID.value})


def amount_due(total: Decimal, credited: Decimal) -> Decimal:
    """What the buyer owes before payments: the total less what credit notes took back.

    ``credited`` is the sum of the credit notes' totals, which are negative.
    """
    # Credit notes are stored negative; abs() keeps a positive one from adding to the debt.
    return money(max(total - abs(credited), Decimal(0)))


def outstanding(total: Decimal, credited: Decimal, paid: Decimal) -> Decimal:
    """What is still to pay, never below zero (an overpayment is not a negative debt here)."""
    return money(max(amount_due(total, credited) - paid, Decimal(0)))


def payment_status(total: Decimal, credited: Decimal, paid: Decimal) -> PaymentStatus:
    """An invoice's status from its payments: nothing, part, all, or more than it asked for."""
    due = amount_due(total, credited)
    if paid <= 0:
        return PaymentStatus.ISSUED
    if paid < due:
        return PaymentStatus.PARTLY_PAID
    if paid == due:
        return PaymentStatus.PAID
    return PaymentStatus.OVERPAID


def next_status(current: str, total: Decimal, credited: Decimal, paid: Decimal) -> str:
    """The status to store: the payment status once money has come in.

    A fully credited invoice stays "credited"; one partly credited keeps that status
    until a payment arrives, then shows how far it is paid (the credit is on its page).
    """
    if current == "credited":
        return current
    computed = payment_status(total, credited, paid)
    if computed is PaymentStatus.ISSUED and current not in PAYMENT_STATUSES:
        return current
    return computed.value


def becomes_settled(before: str, after: str) -> bool:
    """True the moment an invoice is paid in full: ``invoice.paid`` goes out once, then."""
    return before not in SETTLED and after in SETTLED
