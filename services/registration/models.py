"""Registration's tables (prefixed ``reg_``: every service's models share SQLModel's metadata)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, String, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel


class DecimalText(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as text: exact on SQLite, which has no decimal type, and on PostgreSQL."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


def _timestamp() -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Network(SQLModel, table=True):
    __tablename__ = "reg_network"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=50)
    name: str = Field(max_length=200)
    status: str = Field(max_length=20)  # "active" | "proposed"
    partners: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=1000)
    position: int = 0


class Organisation(SQLModel, table=True):
    """An organisation is its organisationsnummer; invoice details follow its latest sign-up."""

    __tablename__ = "reg_organisation"

    id: int | None = Field(default=None, primary_key=True)
    org_number: str = Field(unique=True, max_length=10)  # compact: ten digits
    name: str = Field(max_length=200)
    invoice_email: str = Field(max_length=254)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=10)
    city: str = Field(max_length=100)
    buyer_reference: str = Field(default="", max_length=100)
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class Signup(SQLModel, table=True):
    """One submitted sign-up, with a snapshot of what was entered (later sign-ups never change it)."""

    __tablename__ = "reg_signup"

    id: int | None = Field(default=None, primary_key=True)
    # The receipt's address: random, so one organisation cannot read another's receipt.
    token: str = Field(unique=True, max_length=64)
    organisation_id: int = Field(foreign_key="reg_organisation.id", index=True)
    year: int
    org_name: str = Field(max_length=200)
    org_number: str = Field(max_length=10)
    invoice_email: str = Field(max_length=254)
    street: str = Field(max_length=200)
    postal_code: str = Field(max_length=10)
    city: str = Field(max_length=100)
    buyer_reference: str = Field(default="", max_length=100)
    contact_name: str = Field(max_length=200)
    contact_email: str = Field(max_length=254)
    vat_rate: Decimal = Field(sa_column=Column(DecimalText(), nullable=False))
    vat_note: str = Field(default="", max_length=1000)
    correlation_id: str = Field(max_length=100)
    created_at: datetime = _timestamp()


class Membership(SQLModel, table=True):
    """(organisation, network, year) is one membership: registering it twice is one fee."""

    __tablename__ = "reg_membership"
    __table_args__ = (UniqueConstraint("organisation_id", "network_id", "year", name="uq_reg_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="reg_organisation.id", index=True)
    network_id: int = Field(foreign_key="reg_network.id", index=True)
    year: int = Field(index=True)
    status: str = Field(default="active", max_length=20)
    signup_id: int = Field(foreign_key="reg_signup.id")  # the sign-up that created it
    created_at: datetime = _timestamp()


class SignupLine(SQLModel, table=True):
    """A membership as one sign-up saw it: new or already registered, and its fee then."""

    __tablename__ = "reg_signup_line"
    __table_args__ = (UniqueConstraint("signup_id", "membership_id", name="uq_reg_signup_line"),)

    id: int | None = Field(default=None, primary_key=True)
    signup_id: int = Field(foreign_key="reg_signup.id", index=True)
    membership_id: int = Field(foreign_key="reg_membership.id")
    network_code: str = Field(max_length=50)
    network_name: str = Field(max_length=200)
    created: bool
    fee: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    exemption_reason: str = Field(default="", max_length=300)


MODELS: list[type[SQLModel]] = [Network, Organisation, Signup, Membership, SignupLine]
