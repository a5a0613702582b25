"""The audit log: every act of staff or finance, appended with who, when, what and from where.

Each service keeps its own ``audit_entry`` table (in its own database) and
writes the entry in the same transaction as the act, so an act and its record
commit together. Nothing updates or deletes an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, Engine, Text
from sqlmodel import Field, Session, SQLModel, col, select

from shared.events import utc_now


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor: str = Field(max_length=200)
    # A dotted verb, e.g. "membership.cancel", "payment.register", "dead_letter.replay".
    action: str = Field(max_length=100, index=True)
    # What the act concerns, e.g. "invoice:2026-00001"; pages show the entries for their subject.
    subject: str = Field(max_length=200, index=True)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    remote_addr: str = Field(default="", max_length=64)


def record_act(session: Session, *, actor: str, action: str, subject: str, detail: str = "",
               remote_addr: str = "", at: datetime | None = None) -> AuditEntry:
    """Append an entry in the caller's transaction (the caller commits)."""
    entry = AuditEntry(at=at or utc_now(), actor=actor, action=action, subject=subject,
                       detail=detail, remote_addr=remote_addr)
    session.add(entry)
    return entry


def entries_for(session: Session, subject: str, limit: int = 200) -> Sequence[AuditEntry]:
    statement = (select(AuditEntry).where(AuditEntry.subject == subject)
                 .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit))
    return session.exec(statement).all()


def recent_entries(session: Session, limit: int = 200, *, subject_prefix: str = "",
                   actor: str = "") -> Sequence[AuditEntry]:
    statement = select(AuditEntry)
    if subject_prefix:
        statement = statement.where(col(AuditEntry.subject).startswith(subject_prefix, autoescape=True))
    if actor:
        statement = statement.where(AuditEntry.actor == actor)
    statement = statement.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)
    return session.exec(statement).all()


# The log is never edited: the database itself refuses to (same SQL on SQLite and PostgreSQL).
_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry "
        "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
    ],
    "postgresql": [
        # Two instances starting at once would race on CREATE OR REPLACE: take turns.
        "SELECT pg_advisory_xact_lock(727401)",
        "CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END $$",
        "CREATE OR REPLACE TRIGGER audit_entry_append_only "
        "BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
    ],
}


def protect_audit_log(bind: Engine | Connection) -> None:
    """Install the triggers that refuse UPDATE and DELETE on ``audit_entry`` (idempotent)."""
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            protect_audit_log(connection)
        return
    for statement in _APPEND_ONLY.get(bind.dialect.name, []):
        bind.exec_driver_sql(statement)
