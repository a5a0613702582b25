"""Money: every amount is a ``Decimal`` in SEK, rounded in one place, half up."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ORE = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """Round to whole öre, half up. Refuses floats: they cannot hold money exactly."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(ORE, rounding=ROUND_HALF_UP)


def vat_of(net: Decimal, rate: Decimal) -> Decimal:
    return money(net * rate)


def format_sek(amount: Decimal, *, decimals: bool = True) -> str:
    """Swedish format: ``4 000,00 kr`` (a no-break space groups thousands)."""
    sign = "−" if amount < 0 else ""
    amount = abs(money(amount))
    whole, _, ore = f"{amount:.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    if not decimals and ore == "00":
        return f"{sign}{grouped}\u00a0kr"
    return f"{sign}{grouped},{ore}\u00a0kr"
