"""The transactional outbox: events are written with the state change, then relayed to Redis.

A handler calls :func:`add_event` inside its transaction. :class:`OutboxRelay`
publishes unpublished rows in commit order and marks them published. It is
at-least-once: a crash between publishing and marking publishes the row again,
with the same ``message_id`` header, and consumers drop the duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.from_thread
import structlog
from sqlalchemy import Engine, bindparam, delete, func, update
from sqlmodel import Field, Session, SQLModel, col, select

from shared.db import is_sqlite, transaction
from shared.events import EventBase, dump_event, utc_now
from shared.threads import finish_in_thread
from shared.waiting import wait_or_timeout

log = structlog.get_logger(__name__)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=36)
    stream: str = Field(max_length=100)
    type: str = Field(max_length=100)
    correlation_id: str = Field(max_length=100)
    payload: str
    created_at: datetime
    published_at: datetime | None = Field(default=None, index=True)


def add_event(session: Session, event: EventBase) -> None:
    """Stage an event in the caller's transaction; it is published only if that commits.

    A plain INSERT on the transaction's connection: the row is never read back
    by the caller, so building and tracking an ORM object would be wasted.
    """
    session.connection().execute(_OUTBOX_INSERT, {
        "event_id": str(event.event_id),
        "stream": event.stream,
        "type": event.type,  # type: ignore[attr-defined]
        "correlation_id": event.correlation_id,
        "payload": dump_event(event),
        "created_at": utc_now(),
    })


_OUTBOX_INSERT = OutboxMessage.__table__.insert()  # type: ignore[attr-defined]
_MARK_PUBLISHED = (
    update(OutboxMessage.__table__)  # type: ignore[attr-defined]
    .where(OutboxMessage.__table__.c.id.in_(bindparam("ids", expanding=True)))  # type: ignore[attr-defined]
    .values(published_at=bindparam("published_at"))
)


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]
# How many published rows one retention transaction deletes: short transactions, no long lock.
PRUNE_BATCH = 1000


def prune_published(engine: Engine, *, now: datetime, keep_days: float, batch: int = PRUNE_BATCH) -> int:
    """Delete rows published more than ``keep_days`` ago, ``batch`` per transaction; returns how many.

    A published row has done its work (consumers deduplicate by event id, not by
    this table), and its payload holds personal data, so it must not be kept for ever.
    """
    before = now - timedelta(days=keep_days)
    oldest = (select(_TABLE.c.id).where(_TABLE.c.published_at < before)
              .order_by(_TABLE.c.id).limit(batch).scalar_subquery())
    total = 0
    while True:
        with transaction(engine) as session:
            deleted = session.connection().execute(delete(_TABLE).where(_TABLE.c.id.in_(oldest))).rowcount
        total += deleted
        if deleted < batch:
            break
    if total:
        log.info("published outbox rows deleted", rows=total, published_before=before.isoformat())
    return total


def forget_published(session: Session, email: str) -> int:
    """GDPR erasure: delete published rows whose payload mentions ``email`` (lower-case); returns how many.

    Unpublished rows stay: they are still to be delivered, and retention removes them after.
    """
    mentions = func.lower(_TABLE.c.payload).contains(email, autoescape=True)
    result = session.connection().execute(
        delete(_TABLE).where(_TABLE.c.published_at.is_not(None), mentions))
    return int(result.rowcount)


def outbox_backlog(engine: Engine) -> int:
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(OutboxMessage).where(
                col(OutboxMessage.published_at).is_(None)
            )
        ).one()
    return int(count)


# Publishes a batch in order; the relay marks the rows published only after it returns.
Publish = Callable[[list[OutboxMessage]], Coroutine[Any, Any, None]]


class OutboxRelay:
    """Publishes the outbox to Redis streams.

    On PostgreSQL the batch is selected ``FOR UPDATE SKIP LOCKED``, so several
    relays (one per instance) share the work without publishing a row twice.
    """

    def __init__(self, engine: Engine, publish: Publish, *, batch: int = 200,
                 poll_seconds: float = 0.5) -> None:
        self._engine = engine
        self._publish = publish
        self._batch = batch
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.published = 0
        # Built once, not per batch.
        self._query = (
            select(OutboxMessage)
            .where(col(OutboxMessage.published_at).is_(None))
            .order_by(col(OutboxMessage.id))
            .limit(batch)
        )
        if not is_sqlite(engine):
            self._query = self._query.with_for_update(skip_locked=True)

    def notify(self) -> None:
        """Call after committing new outbox rows, to publish them without waiting for the poll."""
        self._wake.set()

    async def run(self) -> None:
        log.info("outbox relay started")
        while True:
            # Cleared before the batch, so a commit notified while it runs is never missed;
            # a batch that was not full took everything committed before it started, so
            # the relay waits for the next notify (or the poll) instead of selecting again
            # at once only to find nothing.
            self._wake.clear()
            try:
                sent = await finish_in_thread(self._relay_batch)
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(1.0)
            if sent >= self._batch:
                continue  # a full batch: there may be more right behind
            await wait_or_timeout(self._wake, self._poll_seconds)

    def _relay_batch(self) -> int:
        """Publish one batch; runs in a worker thread, holding the rows' locks while it publishes."""
        with transaction(self._engine) as session:
            rows = list(session.exec(self._query))
            if not rows:
                return 0
            anyio.from_thread.run(self._publish, rows)
            # One UPDATE for the batch, not one per row through the unit of work.
            session.connection().execute(
                _MARK_PUBLISHED, {"ids": [row.id for row in rows], "published_at": utc_now()})
        self.published += len(rows)
        log.debug("outbox relayed", count=len(rows))
        return len(rows)
