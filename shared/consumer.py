"""Consumer helpers: group creation, per-process consumer names, and exactly-once handling.

A message is acked by FastStream only after our handler returns, and our
handler returns only after the service's own transaction has committed. That
transaction also records the event id in ``processed_event``, so a redelivery
(after a crash between commit and ack, or a duplicate publish by the relay)
changes nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage, RedisStreamMessage
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from shared.db import transaction
from shared.deadletters import dead_letter_stream as dead_letter_stream  # re-exported: it lived here
from shared.deadletters import record_dead_letter
from shared.events import EventBase, parse_event, utc_now
from shared.metrics import EVENTS_FAILED, EVENTS_HANDLED
from shared.threads import finish_in_thread

log = structlog.get_logger(__name__)

EventHandler = Callable[[Session, Any], None]
"""Runs inside the consumer's transaction; raise to leave the message pending."""


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"

    event_id: str = Field(primary_key=True, max_length=36)
    event_type: str = Field(max_length=100)
    processed_at: datetime


def consumer_name(service: str) -> str:
    """One consumer name per process, so each has its own pending list."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the group at ``0`` so events published before the first start are read."""
    try:
        await redis.xgroup_create(name=stream, groupname=group, id="0", mkstream=True)
        log.info("consumer group created", stream=stream, group=group)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class BatchItemFailed(Exception):
    """The handler of ``work[index]`` raised ``cause``; the whole transaction was rolled back."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"event {index} of the batch failed: {cause}")
        self.index = index
        self.cause = cause


_PROCESSED_INSERT = ProcessedEvent.__table__.insert()  # type: ignore[attr-defined]


def handle_once(engine: Engine, event: EventBase, handler: EventHandler) -> bool:
    """Run ``handler`` and record the event in one transaction; False if already processed."""
    try:
        return bool(handle_batch(engine, [(event, handler)]))
    except BatchItemFailed as failure:
        raise failure.cause from None


def handle_batch(engine: Engine, work: list[tuple[EventBase, EventHandler]]) -> list[EventBase]:
    """Handle several events in ONE transaction; returns those that were new.

    One commit for a whole read batch instead of one per event: the consumer's
    cost per event drops several-fold under load. Any failure rolls back the
    whole batch; the caller then retries the events one by one.
    """
    ids = [str(event.event_id) for event, _handler in work]
    try:
        with transaction(engine) as session:
            done = set(session.exec(
                select(ProcessedEvent.event_id).where(col(ProcessedEvent.event_id).in_(ids))
            ).all())
            new: list[tuple[int, EventBase, EventHandler]] = []
            for index, (event, handler) in enumerate(work):
                event_id = str(event.event_id)
                if event_id in done:
                    continue  # a redelivery, or the relay published the row twice
                done.add(event_id)
                new.append((index, event, handler))
            if new:
                # The marks first, in one INSERT: a second instance handling the same event
                # at once waits on its key here and then fails, before doing any work twice.
                now = utc_now()
                session.connection().execute(_PROCESSED_INSERT, [
                    {"event_id": str(event.event_id), "event_type": event.type,  # type: ignore[attr-defined]
                     "processed_at": now}
                    for _index, event, _handler in new])
            for index, event, handler in new:
                try:
                    handler(session, event)
                except Exception as error:
                    raise BatchItemFailed(index, error) from error
            handled = [event for _index, event, _handler in new]
    except IntegrityError:
        # Another instance may have processed the same events concurrently.
        if len(work) == 1:
            with Session(engine) as session:
                if session.get(ProcessedEvent, ids[0]) is not None:
                    return []
        raise
    return handled


def last_error_key(stream: str, group: str) -> str:
    return f"reglab:last-error:{stream}:{group}"


def subscribe(
    broker: RedisBroker,
    redis: Redis,
    *,
    service: str,
    stream: str,
    engine: Engine,
    handlers: Mapping[str, EventHandler],
    batch: int,
    after_commit: Callable[[], None] | None = None,
    reclaim_idle_ms: int = 30_000,
    max_deliveries: int = 5,
) -> list[Any]:
    """Register the group's reader on ``stream`` and its reclaimer; returns both subscribers.

    The reader takes up to ``batch`` new entries at a time and handles them in
    one transaction. The reclaimer (FastStream's claim-only mode, XAUTOCLAIM)
    takes over, one at a time, entries another consumer left pending for
    ``reclaim_idle_ms``: a crashed process, or a handler that raised. An entry
    delivered more than ``max_deliveries`` times goes to the dead-letter stream
    with its last error, and is acked there; a ``dead_letter.recorded`` event
    tells staff (see :mod:`shared.deadletters`).
    """
    consumer = _GroupConsumer(redis, stream=stream, group=service, engine=engine, handlers=handlers,
                              after_commit=after_commit, max_deliveries=max_deliveries)
    name = consumer_name(service)
    reader = broker.subscriber(stream=StreamSub(stream, group=service, consumer=name, batch=True,
                                                max_records=batch, polling_interval=1000),
                               parser=wrap_raw_entries)
    reader(consumer.on_batch)
    reclaimer = broker.subscriber(stream=StreamSub(
        stream, group=service, consumer=f"{name}-reclaimer", min_idle_time=reclaim_idle_ms,
        polling_interval=max(200, reclaim_idle_ms // 4)), parser=wrap_raw_entries)
    reclaimer(consumer.on_reclaimed)
    return [reader, reclaimer]


async def wrap_raw_entries(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's message wrapper around the raw entries, without FastStream decoding the bodies.

    Our handlers parse ``raw_message`` themselves (:meth:`_GroupConsumer._parse`),
    and dead-letter what they cannot parse. FastStream's own parser would decode
    every body only to throw it away: for a batch it JSON-decodes each entry and
    JSON-encodes the list again (a tenth of a consumer's CPU, an invoice's PDF
    included). Worse, it raises on a body that is not UTF-8 (a raw ``XADD`` of
    garbage) before any handler runs: the entry would never be acked or
    dead-lettered, and in a batch would hold back every good entry read with it.
    So FastStream wraps empty bodies, and acks and delivery counts keep working
    from the original entry ids in ``raw_message``.
    """
    data = message["data"]
    blank: Any = [{b"__data__": b""} for _ in data] if isinstance(data, list) else {b"__data__": b""}
    parsed = await original({**message, "data": blank})
    parsed.raw_message = message
    return parsed


class _GroupConsumer:
    def __init__(self, redis: Redis, *, stream: str, group: str, engine: Engine,
                 handlers: Mapping[str, EventHandler], after_commit: Callable[[], None] | None,
                 max_deliveries: int) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group
        self.engine = engine
        self.handlers = handlers
        self.after_commit = after_commit
        self.max_deliveries = max_deliveries
        self.errors_key = last_error_key(stream, group)

    async def on_batch(self, message: RedisBatchStreamMessage) -> None:
        """New entries, handled in one transaction.

        When one event's handler raises, the transaction is rolled back, that
        entry is left pending for the reclaimer, and the rest are handled again
        without it. Each failing handler is called once per delivery.
        """
        ids = [_decode(entry_id) for entry_id in message.raw_message["message_ids"]]
        work: list[tuple[str, EventBase, EventHandler]] = []
        for entry_id, fields in zip(ids, message.raw_message["data"], strict=True):
            parsed = await self._parse(entry_id, fields.get(b"__data__", b""))
            if parsed is not None:
                work.append((entry_id, *parsed))
        failed: list[str] = []
        while work:
            try:
                handled = await finish_in_thread(
                    handle_batch, self.engine, [(event, handler) for _id, event, handler in work])
            except BatchItemFailed as failure:
                entry_id, event, _handler = work.pop(failure.index)
                await self._failed(entry_id, event, failure.cause, delivery=1)
                failed.append(entry_id)
                continue
            except Exception as error:
                # Not one event's fault (e.g. a commit failed): leave them all to the reclaimer.
                for entry_id, event, _handler in work:
                    await self._failed(entry_id, event, error, delivery=1)
                raise
            self._handled(handled, delivery=1)
            break
        if failed:
            # Ack what succeeded (or was dead-lettered or ignored); leave the failures
            # pending for the reclaimer. Raising keeps FastStream from acking them.
            done = [entry_id for entry_id in ids if entry_id not in failed]
            if done:
                await self.redis.xack(self.stream, self.group, *done)
            raise RuntimeError(f"{len(failed)} of {len(ids)} entries failed; left pending")

    async def on_reclaimed(self, message: RedisStreamMessage) -> None:
        """An entry another consumer left pending: retry it, or dead-letter it past the limit."""
        entry_id = _entry_id(message)
        deliveries = await message.get_delivery_count()
        raw = message.raw_message["data"].get(b"__data__", b"")
        if deliveries > self.max_deliveries:
            last_error = await self.redis.hget(self.errors_key, entry_id)
            reason = last_error.decode() if isinstance(last_error, bytes) else "unknown error"
            # The whole ``__data__`` (headers too), so a replay publishes exactly the original.
            await self._dead_letter(entry_id, raw,
                                    f"gave up after {deliveries - 1} deliveries: {reason}")
            await self.redis.hdel(self.errors_key, entry_id)
            return
        parsed = await self._parse(entry_id, raw)
        if parsed is None:
            return
        event, handler = parsed
        try:
            handled = await finish_in_thread(handle_once, self.engine, event, handler)
        except Exception as error:
            await self._failed(entry_id, event, error, delivery=deliveries)
            raise
        await self.redis.hdel(self.errors_key, entry_id)
        self._handled([event] if handled else [], delivery=deliveries)

    async def _parse(self, entry_id: str, raw: bytes) -> tuple[EventBase, EventHandler] | None:
        """The event and its handler; None when it is dead-lettered or not for this service."""
        try:
            body, _headers = BinaryMessageFormatV1.parse(raw)
            event = parse_event(body)
        except (ValidationError, ValueError, KeyError, IndexError) as error:
            # Retrying cannot make an invalid payload valid: dead-letter it at once.
            await self._dead_letter(entry_id, raw, f"invalid payload: {error}")
            return None
        handler = self.handlers.get(event.type)
        if handler is None:
            return None  # an event this service does not consume: ack and move on
        return event, handler

    async def _failed(self, entry_id: str, event: EventBase, error: Exception, *, delivery: int) -> None:
        EVENTS_FAILED.labels(self.stream).inc()
        await self.redis.hset(self.errors_key, entry_id, f"{error.__class__.__name__}: {error}"[:2000])
        log.error("event handler failed; the entry stays pending for the reclaimer",
                  event_type=event.type, event_id=str(event.event_id),  # type: ignore[attr-defined]
                  delivery=delivery, entry_id=entry_id, exc_info=error)

    def _handled(self, events: list[EventBase], *, delivery: int) -> None:
        for event in events:
            EVENTS_HANDLED.labels(self.stream, event.type).inc()  # type: ignore[attr-defined]
            log.info("event handled", event_type=event.type,  # type: ignore[attr-defined]
                     event_id=str(event.event_id), correlation_id=event.correlation_id,
                     delivery=delivery)
        if events and self.after_commit is not None:
            self.after_commit()

    async def _dead_letter(self, entry_id: str, payload: bytes, error: str) -> None:
        await record_dead_letter(self.redis, stream=self.stream, group=self.group, entry_id=entry_id,
                                 payload=payload, error=error)


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_id(message: RedisStreamMessage) -> str:
    ids = message.raw_message.get("message_ids") or [b""]
    return _decode(ids[0])
