"""Registration's tables for a membership's life after sign-up: cancellation, renewal opt-out, the yearly run.

Kept beside ``models.py`` (prefixed ``reg_`` like the others). A cancelled
membership keeps its row with status ``cancelled``; these tables record who
cancelled it and why, which memberships are not to be renewed, and each run
of the yearly renewal with its progress.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel


def _timestamp(nullable: bool = False) -> Any:
    column = Column(DateTime(timezone=True), nullable=nullable)
    return Field(default=None, sa_column=column) if nullable else Field(sa_column=column)


def _membership(unique: bool) -> Any:
    return Field(sa_column=Column(Integer, ForeignKey("reg_membership.id"), nullable=False, unique=unique))


class MembershipCancellation(SQLModel, table=True):
    """Who cancelled a membership, when and why: UNIQUE, a membership is cancelled once."""

    __tablename__ = "reg_membership_cancellation"

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = _membership(unique=True)
    reason: str = Field(default="", max_length=300)
    cancelled_by: str = Field(max_length=200)
    cancelled_at: datetime = _timestamp()


class RenewalOptOut(SQLModel, table=True):
    """The membership is not renewed by the yearly run (the organisation has said it leaves)."""

    __tablename__ = "reg_renewal_opt_out"

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = _membership(unique=True)
    opted_out_by: str = Field(max_length=200)
    opted_out_at: datetime = _timestamp()


class RenewalRun(SQLModel, table=True):
    """One run of the yearly renewal, from_year → to_year, processed in batches of organisations."""

    __tablename__ = "reg_renewal_run"
    # At most one unfinished run per (from_year, to_year): the page and the command
    # starting at the same moment end up driving the same run.
    __table_args__ = (Index("uq_reg_renewal_run_unfinished", "from_year", "to_year", unique=True,
                            sqlite_where=text("status = 'running'"),
                            postgresql_where=text("status = 'running'")),)

    id: int | None = Field(default=None, primary_key=True)
    from_year: int = Field(index=True)
    to_year: int
    status: str = Field(default="running", max_length=20)  # "running" | "finished"
    organisations_total: int = 0
    organisations_done: int = 0
    memberships_created: int = 0
    # The batches go through organisations in id order; a resumed run starts after this one.
    last_organisation_id: int = 0
    started_by: str = Field(max_length=200)
    started_at: datetime = _timestamp()
    finished_by: str = Field(default="", max_length=200)
    finished_at: datetime | None = _timestamp(nullable=True)


class RenewedMembership(SQLModel, table=True):
    """A membership the yearly run created, and the one it renewed."""

    __tablename__ = "reg_renewed_membership"

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = _membership(unique=True)
    from_membership_id: int = _membership(unique=False)
    renewal_run_id: int = Field(sa_column=Column(Integer, ForeignKey("reg_renewal_run.id"), nullable=False,
                                                 index=True))


LIFECYCLE_MODELS: list[type[SQLModel]] = [MembershipCancellation, RenewalOptOut, RenewalRun,
                                          RenewedMembership]
