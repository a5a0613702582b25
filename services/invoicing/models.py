"""Invoicing's tables: invoices, their lines and PDFs, number series and fee decisions.

All models in the repository share ``SQLModel.metadata``, so every table name
starts with ``inv_``. Issued invoices are never updated or deleted (Swedish
bookkeeping rules): the code has no such path, and a correction will be a
credit note, a new invoice referring to the original.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal that survives both databases exactly.

    PostgreSQL stores ``NUMERIC``. SQLite has no decimal type (SQLAlchemy would
    go through float and warn), so there the value is stored as its text.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("amounts must be Decimal, never float")
        exact = Decimal(value).quantize(self._quantum)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(self._quantum)


def money_column(*, nullable: bool = False) -> Any:
    return Field(sa_column=Column(ExactDecimal(2), nullable=nullable))


def rate_column() -> Any:
    return Field(sa_column=Column(ExactDecimal(4), nullable=False))


class InvNumberSeries(SQLModel, table=True):
    """The last number used in a series; incremented in the invoice's own transaction."""

    __tablename__ = "inv_number_series"

    series: str = Field(primary_key=True, max_length=20)
    last_sequence: int = Field(default=0, ge=0)


class InvInvoice(SQLModel, table=True):
    __tablename__ = "inv_invoice"
    # The database itself refuses a second invoice with the same number in a series.
    __table_args__ = (UniqueConstraint("series", "sequence", name="uq_inv_invoice_series_sequence"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=30, unique=True)
    series: str = Field(max_length=20)
    sequence: int
    kind: str = Field(default="invoice", max_length=20)
    status: str = Field(default="issued", max_length=20)
    signup_id: int | None = Field(default=None, index=True)
    source_event_id: str = Field(max_length=36, index=True)
    correlation_id: str = Field(max_length=100)
    organisation_id: int = Field(index=True)
    buyer_name: str = Field(max_length=300)
    buyer_org_number: str = Field(max_length=20)
    # Digits only, so a search for "5561234567" finds "556123-4567".
    buyer_org_digits: str = Field(max_length=12, index=True)
    buyer_email: str = Field(max_length=320)
    issue_date: date
    due_date: date
    currency: str = Field(default="SEK", max_length=3)
    net: Decimal = money_column()
    vat: Decimal = money_column()
    total: Decimal = money_column()
    ocr: str = Field(max_length=25)
    # The InvoiceDocument as JSON: the snapshot everything printed is made from.
    document: str = Field(sa_column=Column(Text, nullable=False))
    issued_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class InvInvoiceLine(SQLModel, table=True):
    __tablename__ = "inv_invoice_line"
    # One fee per membership at a time: a second line for the same membership and charge
    # cannot be stored. Only a reissue (after a credit note of the earlier line) charges
    # a membership again, as charge + 1 (services.invoicing.credits).
    __table_args__ = (UniqueConstraint("membership_id", "charge", name="uq_inv_invoice_line_charge"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice.id"), nullable=False,
                                             index=True))
    position: int
    membership_id: int = Field(index=True)
    charge: int = Field(default=0, ge=0)
    network_code: str = Field(max_length=100)
    network_name: str = Field(max_length=200)
    year: int
    description: str = Field(max_length=300)
    period_start: date
    period_end: date
    vat_rate: Decimal = rate_column()
    amount: Decimal = money_column()


class InvInvoicePdf(SQLModel, table=True):
    """The PDF exactly as sent to the buyer, kept apart so listing invoices never loads it."""

    __tablename__ = "inv_invoice_pdf"

    invoice_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice.id"), primary_key=True))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class InvFeeDecision(SQLModel, table=True):
    """Why a membership was or was not charged: invoiced (with the number), exempt, or no policy."""

    __tablename__ = "inv_fee_decision"

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = Field(unique=True)
    # None for a membership invoiced by the yearly renewal run (memberships.renewed).
    signup_id: int | None = None
    organisation_id: int = Field(index=True)
    organisation_name: str = Field(max_length=300)
    org_number: str = Field(max_length=20)
    network_code: str = Field(max_length=100)
    network_name: str = Field(max_length=200)
    year: int
    outcome: str = Field(max_length=20, index=True)
    reason: str = Field(default="", max_length=500)
    amount: Decimal | None = money_column(nullable=True)
    invoice_number: str | None = Field(default=None, max_length=30)
    decided_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


# --- Credit notes and cancellations (services.invoicing.credits) ---
# A credit note is itself an inv_invoice row (kind "credit_note") with its own number
# from the same gap-free series; these tables say which invoice lines it credits and
# what became of each cancelled membership.
class InvCreditLine(SQLModel, table=True):
    """One invoice line credited by a credit note: UNIQUE, so no line is ever credited twice."""

    __tablename__ = "inv_credit_line"

    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice.id"), nullable=False,
                                                 index=True))
    credited_line_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice_line.id"),
                                                   nullable=False, unique=True))
    original_invoice_id: int = Field(sa_column=Column(Integer, ForeignKey("inv_invoice.id"), nullable=False,
                                                      index=True))
    membership_id: int = Field(index=True)
    # Negative: what the credit note gives back, excluding VAT.
    amount: Decimal = money_column()


class InvMembershipCancellation(SQLModel, table=True):
    """What invoicing did with a cancelled membership: UNIQUE per membership, so it is handled once.

    ``outcome``: ``credited`` (a credit note was issued), ``exempt`` (never charged),
    ``not_invoiced`` (no policy, nothing billed), ``already_credited`` (its line was
    credited already, e.g. the whole invoice), or ``before_invoicing`` (the cancellation
    arrived before the sign-up or renewal: that membership will never be invoiced).
    """

    __tablename__ = "inv_membership_cancellation"

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = Field(unique=True)
    organisation_id: int = Field(index=True)
    organisation_name: str = Field(max_length=300)
    network_code: str = Field(max_length=100)
    network_name: str = Field(max_length=200)
    year: int
    outcome: str = Field(max_length=30, index=True)
    reason: str = Field(default="", max_length=500)
    cancelled_by: str = Field(default="", max_length=200)
    cancelled_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    original_invoice_number: str | None = Field(default=None, max_length=30)
    credit_note_number: str | None = Field(default=None, max_length=30)
    source_event_id: str = Field(max_length=36)
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))



MODELS: list[type[SQLModel]] = [InvNumberSeries, InvInvoice, InvInvoiceLine, InvInvoicePdf, InvFeeDecision,
                                InvCreditLine, InvMembershipCancellation]
