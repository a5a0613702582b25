"""One bootstrap for a service: database, Redis broker, outbox relay, subscribers and lifespan.

Each ``services/<name>/__main__.py`` builds a :class:`ServiceRuntime`, registers
its event handlers and background tasks, and hands :meth:`lifespan` to FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

import structlog
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from shared.consumer import EventHandler, ensure_group, subscribe
from shared.db import make_engine
from shared.deadletters import DeadLetterStore
from shared.events import ALL_STREAMS, utc_now
from shared.metrics import OUTBOX_BACKLOG, collect_stream_gauges, render
from shared.migrations import migrate_service
from shared.outbox import OutboxMessage, OutboxRelay, outbox_backlog, prune_published
from shared.retention import trim_stream
from shared.settings import CommonSettings
from shared.threads import finish_in_thread

log = structlog.get_logger(__name__)
# How long stop() waits for background tasks to end after cancelling them, per attempt.
STOP_WAIT_SECONDS = 2.0
STOP_ATTEMPTS = 3

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


class ServiceRuntime:
    def __init__(self, service: str, settings: CommonSettings, database_url: str,
                 models: Sequence[type[SQLModel]]) -> None:
        self.service = service
        self.settings = settings
        self.engine: Engine = make_engine(database_url)
        self._models: list[type[SQLModel]] = list(models)
        # FastStream logs every message at INFO with its own handler; route it through
        # the standard logging set up in shared.logs, where only warnings show.
        self.broker = RedisBroker(settings.redis_url, logger=logging.getLogger("faststream.reglab"))
        self.redis: Redis = Redis.from_url(settings.redis_url)
        self.relay = OutboxRelay(self.engine, self._publish, batch=settings.relay_batch,
                                 poll_seconds=settings.relay_poll_seconds)
        self._groups: list[str] = []
        self._subscribers: list[tuple[str, Any]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._background: dict[str, BackgroundTask] = {
            "outbox-relay": self.relay.run,
            "subscriber-watchdog": self._watch_subscribers,
            "stream-retention": self._trim_streams,
        }
        self.extra_metrics: list[Callable[[], Coroutine[Any, Any, None]]] = []
        # This service's dead letters, for the staff page, the API and the command.
        self.dead_letters = DeadLetterStore(self.redis, service)

    def consume(self, stream: str, handlers: dict[str, EventHandler],
                after_commit: Callable[[], None] | None = None) -> None:
        """Read ``stream`` in this service's consumer group; call before the app starts."""
        self._groups.append(stream)
        subscribers = subscribe(
            self.broker, self.redis, service=self.service, stream=stream, engine=self.engine,
            handlers=handlers, batch=self.settings.consumer_batch, after_commit=after_commit,
            reclaim_idle_ms=self.settings.reclaim_idle_ms, max_deliveries=self.settings.max_deliveries)
        self._subscribers += [(stream, subscriber) for subscriber in subscribers]

    def run_in_background(self, name: str, task: BackgroundTask) -> None:
        self._background[name] = task

    async def _publish(self, rows: list[OutboxMessage]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for row in rows:
                await self.broker.publish(row.payload, stream=row.stream,
                                          headers={"message_id": row.event_id},
                                          correlation_id=row.correlation_id, pipeline=pipe)
            await pipe.execute()

    async def _watch_subscribers(self) -> None:
        """Restart a subscriber that stopped, e.g. when Redis lost its group (NOGROUP)."""
        while True:
            await asyncio.sleep(self.settings.subscriber_watchdog_seconds)
            for stream, subscriber in self._subscribers:
                if subscriber.running:
                    continue
                log.warning("subscriber stopped; recreating its group and restarting it", stream=stream)
                try:
                    await ensure_group(self.redis, stream, self.service)
                    await subscriber.start()
                except Exception:
                    log.exception("could not restart subscriber; retrying", stream=stream)

    async def _trim_streams(self) -> None:
        """Trim old entries every group has acked, and old published outbox rows; safe to run anywhere."""
        while True:
            try:
                # finish_in_thread: a shutdown waits for the delete to commit, so the thread
                # never holds a connection past the engine's disposal.
                await finish_in_thread(partial(prune_published, self.engine, now=utc_now(),
                                               keep_days=self.settings.outbox_retention_days))
            except Exception:
                log.exception("outbox retention failed; will retry")
            for stream in ALL_STREAMS:
                try:
                    await trim_stream(self.redis, stream,
                                      keep_seconds=self.settings.stream_retention_days * 86400)
                except Exception:
                    log.exception("stream retention failed; will retry", stream=stream)
            await asyncio.sleep(self.settings.stream_retention_interval_seconds)

    async def metrics(self) -> bytes:
        """Prometheus text: counters plus gauges read now from Redis and the database."""
        OUTBOX_BACKLOG.set(await asyncio.to_thread(outbox_backlog, self.engine))
        await collect_stream_gauges(self.redis, self._groups, self.service)
        for collect in self.extra_metrics:
            await collect()
        return render()

    async def start(self) -> None:
        await asyncio.to_thread(migrate_service, self.engine, self.service, self._models)
        for stream in self._groups:
            await ensure_group(self.redis, stream, self.service)
        await self.broker.start()
        for name, task in self._background.items():
            self._tasks[name] = asyncio.create_task(task(), name=name)
        log.info("service started", consumes=self._groups, tasks=sorted(self._tasks))

    async def stop(self) -> None:
        """Stop reading first; a handler in flight finishes its transaction before its task ends.

        An entry read but not yet handled stays pending (never acked unprocessed)
        and the reclaimer of a surviving or restarted instance takes it over.
        """
        await self.broker.stop()
        pending = set(self._tasks.values())
        for task in pending:
            task.cancel()
        # Bounded: a library that swallows one cancellation (seen in a Redis call) would
        # otherwise leave its task asleep and the shutdown waiting; cancel again instead.
        for _ in range(STOP_ATTEMPTS):
            if not pending:
                break
            done, pending = await asyncio.wait(pending, timeout=STOP_WAIT_SECONDS)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("background task ended with an error", task=task.get_name(),
                                error=repr(task.exception()))
            for task in pending:
                task.cancel()
        if pending:
            log.warning("background tasks did not stop", tasks=sorted(t.get_name() for t in pending))
        await self.redis.aclose()
        self.engine.dispose()
        log.info("service stopped")

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        try:
            await self.start()
        except BaseException:
            # A start that fails midway (a database from a newer release, Redis away) still
            # closes the connections it opened before the error reaches the operator.
            await self.stop()
            raise
        try:
            yield
        finally:
            await self.stop()

    async def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            checks["redis"] = bool(await asyncio.wait_for(self.redis.ping(), timeout=2))
        except Exception as error:
            checks["redis"] = f"unreachable: {error.__class__.__name__}"
        try:
            await asyncio.to_thread(self._ping_database)
            checks["database"] = True
        except Exception as error:
            checks["database"] = f"unreachable: {error.__class__.__name__}"
        dead = [name for name, task in self._tasks.items() if task.done()]
        checks["background_tasks"] = True if not dead else f"stopped: {', '.join(dead)}"
        stopped = [stream for stream, subscriber in self._subscribers if not subscriber.running]
        checks["subscribers"] = True if not stopped else f"stopped: {', '.join(stopped)}"
        healthy = all(value is True for value in checks.values())
        return healthy, checks

    def _ping_database(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
