"""The invoice as a snapshot: everything printed on it, copied at issue and never changed.

A later change of the buyer's address or of Reglab's Bankgiro never alters an
issued invoice, because the PDF, the API and the event are all made from this
one frozen document (stored as JSON with the invoice).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from shared.money import Totals, VatGroup


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Seller(Snapshot):
    name: str
    org_number: str
    vat_number: str
    street: str
    postal_code: str
    city: str
    bankgiro: str
    email: str
    phone: str
    website: str = ""
    reference: str = ""
    f_tax: bool = True


class Buyer(Snapshot):
    organisation_id: int
    name: str
    org_number: str
    street: str
    postal_code: str
    city: str
    invoice_email: str
    reference: str = ""


class DocumentLine(Snapshot):
    membership_id: int
    network_code: str
    network_name: str
    year: int
    description: str
    period_start: date
    period_end: date
    vat_rate: Decimal
    amount: Decimal

    @property
    def full_description(self) -> str:
        """One line of text for an email or a list: the network is part of what was bought."""
        return f"{self.description} – {self.network_name}"

    @property
    def vat_category(self) -> Literal["S", "O"]:
        """UNCL5305: standard rated, or outside the scope of VAT (the two treatments a policy has)."""
        return "S" if self.vat_rate > 0 else "O"


class VatGroupLine(Snapshot):
    rate: Decimal
    net: Decimal
    vat: Decimal

    @property
    def vat_category(self) -> Literal["S", "O"]:
        return "S" if self.rate > 0 else "O"


class InvoiceDocument(Snapshot):
    number: str
    kind: Literal["invoice", "credit_note"] = "invoice"
    issue_date: date
    due_date: date
    payment_terms_days: int
    currency: str = "SEK"
    ocr: str
    # A credit note names the invoice it credits (printed, and the UBL BillingReference).
    credited_number: str | None = None
    credited_issue_date: date | None = None
    seller: Seller
    buyer: Buyer
    lines: tuple[DocumentLine, ...]
    vat_groups: tuple[VatGroupLine, ...]
    net: Decimal
    vat: Decimal
    total: Decimal
    # Legal texts printed with the totals, e.g. why no VAT is charged.
    notes: tuple[str, ...] = ()
    # Öresavrundning: what rounding the total to whole kronor adds (0.00 when rounding is off).
    rounding: Decimal = Decimal("0.00")
    # Why lines outside the scope of VAT carry none (the policy's legal text; UBL TaxExemptionReason).
    vat_exemption_reason: str = ""

    @model_validator(mode="after")
    def _amounts_add_up(self) -> InvoiceDocument:
        """A snapshot whose amounts do not add up is refused, whoever built it."""
        Totals(net=self.net, vat=self.vat, total=self.total, rounding=self.rounding,
               groups=tuple(VatGroup(rate=g.rate, net=g.net, vat=g.vat) for g in self.vat_groups))
        for group in self.vat_groups:
            lines = sum((line.amount for line in self.lines if line.vat_rate == group.rate), Decimal(0))
            if lines != group.net:
                raise ValueError(f"the lines at {group.rate} add up to {lines}, not {group.net}")
        if {line.vat_rate for line in self.lines} != {group.rate for group in self.vat_groups}:
            raise ValueError("every VAT rate on a line needs its VAT group, and only those")
        return self

    @property
    def payable(self) -> Decimal:
        """What the buyer pays: the total plus any öresavrundning."""
        return self.total + self.rounding
