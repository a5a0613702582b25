"""Tables for money received and what follows from it: payments, BgMax imports, overdue notices, costs.

Importing is idempotent twice over: a file's SHA-256 is unique, and so is each
bank payment's identity (receiver bankgiro, payment date, BGC serial number),
so the same payment in a second, different file is not counted again.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.invoicing.models import money_column


class InvPaymentImport(SQLModel, table=True):
    """One BgMax file read in: who, when, what it held. Its hash refuses the same file twice."""

    __tablename__ = "inv_payment_import"

    id: int | None = Field(default=None, primary_key=True)
    file_hash: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=300)
    file_created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=False)))
    payment_count: int
    matched_count: int
    duplicate_count: int = 0
    total: Decimal = money_column()
    imported_by: str = Field(max_length=200)
    imported_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class InvPayment(SQLModel, table=True):
    """Money received. ``invoice_id`` is None while it waits for finance to match it by hand."""

    __tablename__ = "inv_payment"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("inv_invoice.id"), nullable=True, index=True))
    amount: Decimal = money_column()
    paid_on: date
    reference: str = Field(default="", max_length=100)
    source: str = Field(max_length=20)  # "manual" or "bgmax"
    import_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("inv_payment_import.id"), nullable=True, index=True))
    # Receiver bankgiro, payment date and BGC serial number: unique, so a payment is never counted twice.
    bank_identity: str | None = Field(default=None, max_length=60, unique=True)
    payer: str = Field(default="", max_length=300)
    # Why it was not matched automatically (unknown OCR, not an OCR); kept after a manual match.
    unmatched_reason: str = Field(default="", max_length=300)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    registered_by: str = Field(max_length=200)
    registered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    matched_by: str = Field(default="", max_length=200)
    matched_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class InvOverdueNotice(SQLModel, table=True):
    """``invoice.overdue`` published for an invoice on a day: unique, so never twice the same day."""

    __tablename__ = "inv_overdue_notice"
    __table_args__ = (UniqueConstraint("invoice_id", "as_of", name="uq_inv_overdue_invoice_day"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice.id"), nullable=False))
    as_of: date
    outstanding: Decimal = money_column()
    published_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class InvNetworkCost(SQLModel, table=True):
    """What a network cost Reglab in a year (venues, coordination), entered by staff."""

    __tablename__ = "inv_network_cost"
    __table_args__ = (UniqueConstraint("year", "network_code", name="uq_inv_network_cost_year_network"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    network_code: str = Field(max_length=100)
    network_name: str = Field(max_length=200)
    amount: Decimal = money_column()
    note: str = Field(default="", max_length=500)
    updated_by: str = Field(max_length=200)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


PAYMENT_MODELS: list[type[SQLModel]] = [InvPaymentImport, InvPayment, InvOverdueNotice, InvNetworkCost]
