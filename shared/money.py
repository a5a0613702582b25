"""Money: every amount is a ``Decimal`` in SEK, rounded in one place, half up.

This is the one module that computes amounts: öre rounding, VAT per rate,
an invoice's totals (a value object that refuses net + VAT != gross) and the
optional rounding of what is payable to whole kronor (öresavrundning).
Registration's receipt and invoicing's invoice both use it, so they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ORE = Decimal("0.01")
KRONA = Decimal("1")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Round to whole öre, half up. Refuses floats: they cannot hold money exactly."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(ORE, rounding=ROUND_HALF_UP)


def vat_of(net: Decimal, rate: Decimal) -> Decimal:
    return money(net * rate)


def krona_rounding(amount: Decimal) -> Decimal:
    """What öresavrundning adds to ``amount`` to make it whole kronor (half up, away from zero).

    ``1234.50`` → ``0.50``; ``1234.49`` → ``-0.49``; ``-1234.50`` → ``-0.50``.
    """
    amount = money(amount)
    return money(amount.quantize(KRONA, rounding=ROUND_HALF_UP) - amount)


@dataclass(frozen=True)
class VatGroup:
    """One VAT rate's taxable amount (underlag) and its VAT."""

    rate: Decimal
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Totals:
    """An invoice's amounts; refuses to exist unless they add up exactly.

    ``total`` is net + VAT (gross); ``payable`` is ``total + rounding``, where
    ``rounding`` is the öresavrundning (zero unless rounding to kronor is on).
    """

    net: Decimal
    vat: Decimal
    total: Decimal
    groups: tuple[VatGroup, ...]
    rounding: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("net", "vat", "total", "rounding"):
            value = getattr(self, name)
            if value != money(value):
                raise ValueError(f"{name} {value} is not an amount in whole öre")
        if self.net + self.vat != self.total:
            raise ValueError(f"net {self.net} + VAT {self.vat} != total {self.total}")
        if sum((g.net for g in self.groups), Decimal(0)) != self.net:
            raise ValueError("the VAT groups' net does not add up to the invoice's net")
        if sum((g.vat for g in self.groups), Decimal(0)) != self.vat:
            raise ValueError("the VAT groups' VAT does not add up to the invoice's VAT")
        for group in self.groups:
            if group.vat != vat_of(group.net, group.rate):
                raise ValueError(f"VAT {group.vat} is not {group.rate} of {group.net}")
        # Either no rounding, or exactly the öresavrundning that makes the total whole kronor.
        if self.rounding not in (ZERO, krona_rounding(self.total)):
            raise ValueError(f"rounding {self.rounding} is not the öresavrundning of {self.total}")

    @property
    def payable(self) -> Decimal:
        return self.total + self.rounding


def compute_totals(lines: Sequence[tuple[Decimal, Decimal]], *, round_to_krona: bool = False) -> Totals:
    """Totals from (net amount, VAT rate) lines.

    VAT is computed once per rate on that rate's summed net, not per line, so
    rounding happens once (the way Swedish invoices state VAT per rate).
    Negative lines (a credit note's) round symmetrically: half away from zero.
    """
    by_rate: dict[Decimal, Decimal] = {}
    for amount, rate in lines:
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + money(amount)
    groups = tuple(
        VatGroup(rate=rate, net=money(net), vat=vat_of(net, rate))
        for rate, net in sorted(by_rate.items(), reverse=True)
    )
    net = money(sum((g.net for g in groups), Decimal(0)))
    vat = money(sum((g.vat for g in groups), Decimal(0)))
    total = net + vat
    rounding = krona_rounding(total) if round_to_krona else ZERO
    return Totals(net=net, vat=vat, total=total, groups=groups, rounding=rounding)


def format_sek(amount: Decimal, *, decimals: bool = True) -> str:
    """Swedish format: ``4 000,00 kr`` (a no-break space groups thousands)."""
    sign = "−" if amount < 0 else ""
    amount = abs(money(amount))
    whole, _, ore = f"{amount:.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    if not decimals and ore == "00":
        return f"{sign}{grouped}\u00a0kr"
    return f"{sign}{grouped},{ore}\u00a0kr"
