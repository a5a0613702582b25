"""The ledger: one row per (rule, source key, recipient), recorded when due and then sent once.

A row is ``pending`` until the scheduler turns it into an email in the email
log (``queued``, with ``email_id``), or finds it no longer wanted (``skipped``,
with the reason: the invoice was paid, the participant cancelled...). The
unique constraint is what makes "nothing goes twice" hold across restarts and
instances.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.notifications.models import UtcDateTime


class LedgerStatus(StrEnum):
    pending = "pending"
    queued = "queued"
    skipped = "skipped"


class ReminderEntry(SQLModel, table=True):
    __tablename__ = "ntf_reminder"
    __table_args__ = (
        UniqueConstraint("rule", "source_key", "recipient", name="uq_ntf_reminder_rule_source_recipient"),
        Index("ix_ntf_reminder_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule: str = Field(max_length=40)
    # What the reminder is about: "meeting:12", "invoice:2026-00001", "week:2026-W48".
    source_key: str = Field(max_length=100)
    # The address, as its recipient key (lower case, no display name).
    recipient: str = Field(max_length=320)
    recipient_name: str = Field(default="", max_length=300)
    # Who, inside the source: "participant:5", "contact:9", "invoice:2026-00001", "staff".
    ref: str = Field(default="", max_length=100)
    subject: str = Field(max_length=500)
    due_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(default=LedgerStatus.pending.value, max_length=20)
    email_id: int | None = None
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_type=UtcDateTime)
    handled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
