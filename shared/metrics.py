"""Prometheus metrics at ``/metrics``: events handled and failed, lag, pending, backlog, dead letters.

Counters are incremented where things happen; gauges are read from Redis and
the database when Prometheus scrapes, so they are never stale.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.asyncio import Redis

from shared.deadletters import dead_letter_stream

REGISTRY = CollectorRegistry()
EVENTS_HANDLED = Counter("reglab_events_handled", "Events handled, by stream and type",
                         ["stream", "type"], registry=REGISTRY)
EVENTS_FAILED = Counter("reglab_events_failed", "Event handler failures, by stream",
                        ["stream"], registry=REGISTRY)
CONSUMER_LAG = Gauge("reglab_consumer_lag", "Entries not yet delivered to the group",
                     ["stream", "group"], registry=REGISTRY)
CONSUMER_PENDING = Gauge("reglab_consumer_pending", "Entries delivered but not acked",
                         ["stream", "group"], registry=REGISTRY)
OUTBOX_BACKLOG = Gauge("reglab_outbox_backlog", "Outbox rows not yet published", registry=REGISTRY)
DEAD_LETTERS = Gauge("reglab_dead_letters", "Entries in the dead-letter stream",
                     ["stream"], registry=REGISTRY)
MAIL_QUEUE = Gauge("reglab_mail_queue", "Emails by status", ["status"], registry=REGISTRY)

CONTENT_TYPE = CONTENT_TYPE_LATEST


async def collect_stream_gauges(redis: Redis, streams: list[str], group: str) -> None:
    for stream in streams:
        groups: Any = await redis.xinfo_groups(stream) if await redis.exists(stream) else []
        for info in groups:
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if name != group:
                continue
            CONSUMER_LAG.labels(stream, group).set(info.get("lag") or 0)
            CONSUMER_PENDING.labels(stream, group).set(info.get("pending") or 0)
        DEAD_LETTERS.labels(stream).set(await redis.xlen(dead_letter_stream(stream)))


def render() -> bytes:
    return generate_latest(REGISTRY)
