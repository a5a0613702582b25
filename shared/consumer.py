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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import anyio
import structlog
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from shared.db import transaction
from shared.events import EventBase, parse_event, utc_now
from shared.metrics import EVENTS_FAILED, EVENTS_HANDLED

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


def dead_letter_stream(stream: str) -> str:
    return f"{stream}.dead-letters"


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create the group at ``0`` so events published before the first start are read."""
    try:
        await redis.xgroup_create(name=stream, groupname=group, id="0", mkstream=True)
        log.info("consumer group created", stream=stream, group=group)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def handle_once(engine: Engine, event: EventBase, handler: EventHandler) -> bool:
    """Run ``handler`` and record the event in one transaction; False if already processed."""
    event_id = str(event.event_id)
    try:
        with transaction(engine) as session:
            if session.get(ProcessedEvent, event_id) is not None:
                return False
            session.add(
                ProcessedEvent(event_id=event_id, event_type=event.type,  # type: ignore[attr-defined]
                               processed_at=utc_now())
            )
            session.flush()
            handler(session, event)
    except IntegrityError:
        # Another instance may have processed the same event concurrently.
        with transaction(engine) as session:
            if session.get(ProcessedEvent, event_id) is not None:
                return False
        raise
    return True


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
    """Register the group's subscriber on ``stream`` and its reclaimer; returns both.

    The subscriber reads new entries. The reclaimer (FastStream's claim-only
    mode, XAUTOCLAIM) takes over entries another consumer left pending for
    ``reclaim_idle_ms``: a crashed process, or a handler that raised. An entry
    delivered more than ``max_deliveries`` times goes to the dead-letter stream
    with its last error, and is acked there.
    """
    group = service
    name = consumer_name(service)
    errors_key = last_error_key(stream, group)

    async def on_message(message: RedisStreamMessage) -> None:
        entry_id = _entry_id(message)
        deliveries = await message.get_delivery_count()
        if deliveries > max_deliveries:
            last_error = await redis.hget(errors_key, entry_id)
            reason = last_error.decode() if isinstance(last_error, bytes) else "unknown error"
            await _dead_letter(redis, stream, group, message,
                               f"gave up after {deliveries - 1} deliveries: {reason}")
            await redis.hdel(errors_key, entry_id)
            return
        try:
            event = parse_event(message.body)
        except ValidationError as error:
            # Retrying cannot make an invalid payload valid: dead-letter it at once.
            await _dead_letter(redis, stream, group, message, f"invalid payload: {error}")
            return
        handler = handlers.get(event.type)
        if handler is None:
            return  # an event this service does not consume: ack and move on
        try:
            done = await anyio.to_thread.run_sync(handle_once, engine, event, handler)
        except Exception as error:
            EVENTS_FAILED.labels(stream).inc()
            await redis.hset(errors_key, entry_id, f"{error.__class__.__name__}: {error}"[:2000])
            log.exception("event handler failed; the entry stays pending for the reclaimer",
                          event_type=event.type, event_id=str(event.event_id),
                          delivery=deliveries, entry_id=entry_id)
            raise
        if deliveries > 1:
            await redis.hdel(errors_key, entry_id)
        if done:
            EVENTS_HANDLED.labels(stream, event.type).inc()
        log.info("event handled" if done else "duplicate event skipped",
                 event_type=event.type, event_id=str(event.event_id),
                 correlation_id=event.correlation_id, delivery=deliveries)
        if done and after_commit is not None:
            after_commit()

    reader = StreamSub(stream, group=group, consumer=name, max_records=batch, polling_interval=1000)
    reclaimer = StreamSub(stream, group=group, consumer=f"{name}-reclaimer",
                          min_idle_time=reclaim_idle_ms, polling_interval=max(200, reclaim_idle_ms // 4))
    subscribers = [broker.subscriber(stream=reader), broker.subscriber(stream=reclaimer)]
    for subscriber in subscribers:
        subscriber(on_message)
    return subscribers


def _entry_id(message: RedisStreamMessage) -> str:
    ids = message.raw_message.get("message_ids") or [b""]
    first = ids[0]
    return first.decode() if isinstance(first, bytes) else str(first)


async def _dead_letter(redis: Redis, stream: str, group: str,
                       message: RedisStreamMessage, error: str) -> None:
    fields: dict[Any, Any] = {
        "stream": stream,
        "group": group,
        "entry_id": _entry_id(message),
        "error": error[:2000],
        "payload": message.body,
        "failed_at": utc_now().isoformat(),
    }
    await redis.xadd(dead_letter_stream(stream), fields)
    log.error("message dead-lettered", stream=stream, group=group, error=error[:200])
