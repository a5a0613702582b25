"""The invoice as a snapshot: everything printed on it, copied at issue and never changed.

A later change of the buyer's address or of Reglab's Bankgiro never alters an
issued invoice, because the PDF, the API and the event are all made from this
one frozen document (stored as JSON with the invoice).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict


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


class VatGroupLine(Snapshot):
    rate: Decimal
    net: Decimal
    vat: Decimal


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
