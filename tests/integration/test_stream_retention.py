"""Retention trims only what every consumer group has acked, on a real redis-server."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from shared.retention import oldest_needed, trim_stream
from tests.support.servers import RedisServer

STREAM = "reglab.test"


async def add_entries(redis: Redis, count: int) -> list[str]:
    ids = []
    for i in range(count):
        entry: Any = await redis.xadd(STREAM, {"n": str(i)})
        ids.append(entry.decode())
    return ids


async def read(redis: Redis, group: str, count: int, *, ack: bool) -> list[str]:
    answer: Any = await redis.xreadgroup(group, f"{group}-1", {STREAM: ">"}, count=count)
    ids = [entry_id.decode() for entry_id, _fields in answer[0][1]]
    if ack:
        await redis.xack(STREAM, group, *ids)
    return ids


async def remaining(redis: Redis) -> list[str]:
    found: Any = await redis.xrange(STREAM)
    return [entry_id.decode() for entry_id, _fields in found]


async def test_entries_pending_or_undelivered_for_any_group_are_kept(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    ids = await add_entries(redis, 10)
    for group in ("invoicing", "notifications", "slow"):
        await redis.xgroup_create(STREAM, group, id="0")
    await read(redis, "invoicing", 10, ack=True)
    await read(redis, "notifications", 4, ack=True)
    await read(redis, "notifications", 2, ack=False)  # ids[4], ids[5] pending: a crashed consumer
    await read(redis, "slow", 7, ack=True)  # ids[7:] never delivered to "slow"

    trimmed = await trim_stream(redis, STREAM, keep_seconds=0)

    assert trimmed == 4
    assert await remaining(redis) == ids[4:]
    await redis.aclose()


async def test_young_entries_are_kept_even_when_every_group_has_acked_them(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    ids = await add_entries(redis, 5)
    await redis.xgroup_create(STREAM, "invoicing", id="0")
    await read(redis, "invoicing", 5, ack=True)
    assert await trim_stream(redis, STREAM, keep_seconds=3600) == 0
    assert await remaining(redis) == ids
    assert await trim_stream(redis, STREAM, keep_seconds=0) == 5
    await redis.aclose()


async def test_a_stream_no_group_has_read_is_never_trimmed(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    ids = await add_entries(redis, 3)
    assert await trim_stream(redis, STREAM, keep_seconds=0) == 0
    assert await remaining(redis) == ids
    await redis.aclose()


def test_the_oldest_needed_entry_is_the_minimum_over_groups() -> None:
    groups = [{"name": b"a", "last-delivered-id": b"100-5"}, {"name": b"b", "last-delivered-id": b"90-0"}]
    assert oldest_needed(groups, {"a": None, "b": None}) == "90-1"
    assert oldest_needed(groups, {"a": "80-2", "b": None}) == "80-2"
    assert oldest_needed([], {}) is None
