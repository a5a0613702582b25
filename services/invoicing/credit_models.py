"""Invoicing's tables for credit notes and cancellations (prefixed ``inv_`` like the others).

A credit note is itself an ``inv_invoice`` row (kind ``credit_note``) with its
own number from the same gap-free series; these tables say which invoice
lines it credits and what became of each cancelled membership.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from services.invoicing.models import money_column


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


CREDIT_MODELS: list[type[SQLModel]] = [InvCreditLine, InvMembershipCancellation]
