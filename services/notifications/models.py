"""The email log: one row per (source event, recipient), recorded before anything is sent.

The row holds the final message bytes, so every attempt sends the same mail;
``status``/``next_attempt_at`` drive the sender, and ``claimed_by`` tells which
instance holds the lease on a row it is sending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.notifications.domain import EmailStatus
from shared.dbtypes import UtcDateTime

ERROR_LENGTH = 2000


class Email(SQLModel, table=True):
    __tablename__ = "ntf_email"
    __table_args__ = (
        # Sent once per (event, recipient), however often the event is delivered.
        UniqueConstraint("source_event_id", "recipient", name="uq_ntf_email_event_recipient"),
        # The sender's query: queued rows whose time has come.
        Index("ix_ntf_email_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=320)
    envelope_from: str = Field(max_length=320)
    subject: str = Field(max_length=500)
    message_id: str = Field(max_length=200)
    source_event_id: str = Field(max_length=36)
    source_event_type: str = Field(max_length=100)
    correlation_id: str = Field(max_length=100)
    status: str = Field(default=EmailStatus.queued.value, max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=ERROR_LENGTH)
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    claimed_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The complete RFC 5322 message, attachments included; deferred from listings.
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


MODELS: list[type[SQLModel]] = [Email]
