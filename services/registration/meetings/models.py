"""Tables for meetings, network weeks, contacts and participants (prefixed ``reg_`` like registration's)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.registration.models import DecimalText
from shared.dbtypes import UtcDateTime


def _at(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable))


def _money() -> Any:
    return Field(default=Decimal("0.00"), sa_column=Column(DecimalText(), nullable=False))


class NetworkWeek(SQLModel, table=True):
    """One of a year's network weeks (ISO week number)."""

    __tablename__ = "reg_network_week"
    __table_args__ = (UniqueConstraint("year", "week", name="uq_reg_network_week"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    week: int


class Meeting(SQLModel, table=True):
    __tablename__ = "reg_meeting"

    id: int | None = Field(default=None, primary_key=True)
    network_id: int = Field(foreign_key="reg_network.id", index=True)
    year: int = Field(index=True)  # the year of its (Stockholm) date
    title: str = Field(max_length=200)
    starts_at: datetime = _at()
    ends_at: datetime = _at()
    venue: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)
    agenda: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    capacity: int
    registration_deadline: date
    cost_venue: Decimal = _money()
    cost_food: Decimal = _money()
    cost_speakers: Decimal = _money()
    # Required when the meeting is outside the year's network weeks / beyond two a year.
    outside_weeks_reason: str = Field(default="", max_length=1000)
    extra_meeting_reason: str = Field(default="", max_length=1000)
    status: str = Field(default="scheduled", max_length=20)  # scheduled | cancelled
    cancel_reason: str = Field(default="", max_length=1000)
    sequence: int = 0
    created_at: datetime = _at()
    updated_at: datetime = _at()


class Contact(SQLModel, table=True):
    """A person an organisation has for a network: invited to its meetings unless removed or unsubscribed."""

    __tablename__ = "reg_contact"
    __table_args__ = (UniqueConstraint("organisation_id", "network_id", "email", name="uq_reg_contact"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="reg_organisation.id", index=True)
    network_id: int = Field(foreign_key="reg_network.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)  # lower case
    active: bool = True  # False: removed by staff (kept, so a later sync does not bring it back)
    subscribed: bool = True  # False: unsubscribed from invitations
    signup_id: int | None = Field(default=None, foreign_key="reg_signup.id")  # the sign-up that gave it
    created_at: datetime = _at()
    unsubscribed_at: datetime | None = _at(nullable=True)


class ContactSync(SQLModel, table=True):
    """One row, locked while sign-ups are turned into contacts, so two syncs never race."""

    __tablename__ = "reg_contact_sync"

    id: int | None = Field(default=None, primary_key=True)
    # Kept for information: the highest sign-up id seen. Not a watermark: on PostgreSQL a
    # sign-up with a lower id can commit after a higher one, so each sign-up is marked instead.
    last_signup_id: int = 0


class ContactSyncedSignup(SQLModel, table=True):
    """A sign-up whose contact has been made (or found) for each of its networks."""

    __tablename__ = "reg_contact_synced_signup"

    signup_id: int = Field(primary_key=True, foreign_key="reg_signup.id")


class MeetingParticipant(SQLModel, table=True):
    """A person signed up for a meeting; one row per (meeting, e-mail)."""

    __tablename__ = "reg_meeting_participant"
    __table_args__ = (UniqueConstraint("meeting_id", "email", name="uq_reg_meeting_participant"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="reg_meeting.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="reg_contact.id")
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)  # lower case
    organisation_name: str = Field(max_length=200)
    dietary: str = Field(default="", max_length=500)
    status: str = Field(max_length=20)  # registered | waiting | cancelled
    queued_at: datetime = _at()  # the waiting list's order
    created_at: datetime = _at()
    updated_at: datetime = _at()


MEETING_MODELS: list[type[SQLModel]] = [
    NetworkWeek,
    Meeting,
    Contact,
    ContactSync,
    ContactSyncedSignup,
    MeetingParticipant,
]
