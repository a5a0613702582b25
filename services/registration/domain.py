"""Registration's pure rules: what a validated sign-up is and what it costs. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal

from shared.money import compute_totals


@dataclass(frozen=True)
class NetworkRef:
    """What validation needs to know about a network."""

    code: str
    name: str
    status: str


@dataclass(frozen=True)
class SignupRequest:
    """A sign-up that passed validation: trimmed, org number compact, emails normalised."""

    org_name: str
    org_number: str
    invoice_email: str
    street: str
    postal_code: str
    city: str
    buyer_reference: str
    contact_name: str
    contact_email: str
    networks: tuple[str, ...]
    year: int


@dataclass(frozen=True)
class FeeLine:
    """One membership of a sign-up and its fee, as the receipt shows it."""

    network_code: str
    network_name: str
    year: int
    created: bool
    fee: Decimal | None  # None: exempt
    exemption_reason: str = ""

    @property
    def exempt(self) -> bool:
        return self.fee is None

    @property
    def due(self) -> Decimal:
        # A membership registered before was charged then: one membership, one fee.
        return self.fee if self.created and self.fee is not None else Decimal("0.00")


@dataclass(frozen=True)
class FeeSummary:
    net: Decimal
    vat: Decimal
    total: Decimal
    vat_rate: Decimal


def fee_summary(lines: Iterable[FeeLine], vat_rate: Decimal) -> FeeSummary:
    """The receipt's totals, computed by the same code as the invoice's (``shared.money``)."""
    totals = compute_totals([(line.due, vat_rate) for line in lines if line.due])
    return FeeSummary(net=totals.net, vat=totals.vat, total=totals.total, vat_rate=vat_rate)


def default_year(policy_years: Collection[int]) -> int | None:
    """The year the form offers first: the latest one with a fee policy."""
    return max(policy_years, default=None)


def display_org_number(compact: str) -> str:
    """``5566778899`` as people write it: ``556677-8899``."""
    return f"{compact[:6]}-{compact[6:]}" if len(compact) == 10 else compact


def percent(rate: Decimal) -> str:
    """``0.25`` as ``25 %``, ``0.125`` as ``12,5 %``."""
    value = (rate * 100).normalize()
    text = f"{value:f}".replace(".", ",")
    return f"{text}\u00a0%"
