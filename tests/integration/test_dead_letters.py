"""Dead letters on a real redis-server and SQLite/PostgreSQL: recorded, listed per group, replayed once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlmodel import Session, select

from shared import wire
from shared.consumer import ProcessedEvent, ensure_group, subscribe
from shared.db import create_tables, make_engine
from shared.deadletters import DeadLetterNotFound, DeadLetterStore, dead_letter_stream, record_dead_letter
from shared.events import INVOICING_STREAM, OPERATIONS_STREAM, REGISTRATION_STREAM, parse_event
from tests.integration.test_outbox_and_consumer import signup
from tests.support.dead_letters import dead_letter_for
from tests.support.servers import RedisServer
from tests.support.streams import read_events, read_headers


async def eventually(condition: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_an_entry_that_keeps_failing_is_replayed_after_the_fix_and_handled_exactly_once(
        database_url: str, redis_server: RedisServer, redis: Redis) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [ProcessedEvent])
    broken = True
    handled: list[int] = []

    def handler(_session: Session, event: Any) -> None:
        if broken:
            raise ValueError("no fee policy for this year")
        handled.append(event.signup_id)

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    broker = RedisBroker(redis_server.url)
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": handler}, batch=10, reclaim_idle_ms=150, max_deliveries=2)
    await broker.start()
    try:
        event = signup(21)
        await broker.publish(event.model_dump_json(), stream=REGISTRATION_STREAM,
                             headers={"message_id": str(event.event_id)}, correlation_id="corr-21")
        store = DeadLetterStore(redis, "invoicing")

        async def dead_lettered() -> bool:
            return len(await store.letters()) == 1

        await eventually(dead_lettered)
        [letter] = await store.letters()
        assert letter.stream == REGISTRATION_STREAM and letter.group == "invoicing"
        assert letter.event_type == "signup.completed" and letter.event_id == str(event.event_id)
        assert "no fee policy for this year" in letter.error and letter.failed_at is not None

        broken = False  # the fix is deployed
        replayed = await store.replay(letter.id)
        assert replayed.dead_letter.id == letter.id

        async def handled_once() -> bool:
            return handled == [21]

        await eventually(handled_once)
        assert await store.letters() == []
        with pytest.raises(DeadLetterNotFound):
            await store.replay(letter.id)  # replaying twice changes nothing
        await asyncio.sleep(0.5)
        assert handled == [21]
        # The replayed entry is the original message, headers and all.
        headers = read_headers(redis_server.url, REGISTRATION_STREAM)
        assert [h["message_id"] for h in headers] == [str(event.event_id)] * 2
        assert headers[1]["correlation_id"] == "corr-21"
        with Session(engine) as session:
            assert len(session.exec(select(ProcessedEvent)).all()) == 1
    finally:
        await broker.stop()
        engine.dispose()


async def test_dead_lettering_publishes_one_dead_letter_recorded_event_per_entry(
        redis_server: RedisServer, redis: Redis) -> None:
    first = await dead_letter_for(redis, "invoicing", 1)
    # The same entry dead-lettered again (a crash before its ack): one event id, so one email.
    await dead_letter_for(redis, "invoicing", 1)
    await dead_letter_for(redis, "notifications", 2, stream=INVOICING_STREAM)

    events = read_events(redis_server.url, OPERATIONS_STREAM)
    assert [e.type for e in events] == ["dead_letter.recorded"] * 3
    assert events[0].event_id == events[1].event_id != events[2].event_id
    assert events[0].dead_letter_id == first
    assert events[0].source_stream == REGISTRATION_STREAM and events[0].group == "invoicing"
    assert events[0].event_type == "signup.completed" and events[0].correlation_id == "corr-1"
    assert "no fee policy" in events[0].error


async def test_a_dead_letter_of_the_operations_stream_raises_no_further_event(redis: Redis) -> None:
    await record_dead_letter(redis, stream=OPERATIONS_STREAM, group="notifications", entry_id="1-0",
                             payload=b"garbage", error="invalid payload")
    assert await redis.xlen(dead_letter_stream(OPERATIONS_STREAM)) == 1
    assert await redis.xlen(OPERATIONS_STREAM) == 0


async def test_each_service_sees_and_replays_only_its_own_groups_dead_letters(
        redis_server: RedisServer, redis: Redis) -> None:
    theirs = await dead_letter_for(redis, "notifications", 3)
    mine = await dead_letter_for(redis, "invoicing", 4)
    invoicing = DeadLetterStore(redis, "invoicing")

    assert [letter.id for letter in await invoicing.letters()] == [mine]
    with pytest.raises(DeadLetterNotFound):
        await invoicing.replay(theirs)
    assert [letter.id for letter in await DeadLetterStore(redis, "notifications").letters()] == [theirs]
    assert await DeadLetterStore(redis, "registration").letters() == []


async def test_replay_all_publishes_every_dead_letter_of_the_group_once_oldest_first(
        redis_server: RedisServer, redis: Redis) -> None:
    for signup_id in (5, 6, 7):
        await dead_letter_for(redis, "invoicing", signup_id)
    await dead_letter_for(redis, "notifications", 8)
    store = DeadLetterStore(redis, "invoicing")

    replayed = await store.replay_all()
    assert [r.dead_letter.event_type for r in replayed] == ["signup.completed"] * 3
    assert [e.signup_id for e in read_events(redis_server.url, REGISTRATION_STREAM)] == [5, 6, 7]
    assert await store.replay_all() == []
    assert len(read_events(redis_server.url, REGISTRATION_STREAM)) == 3
    assert len(await DeadLetterStore(redis, "notifications").letters()) == 1


async def test_a_dead_letter_holding_only_a_bare_body_is_replayed_as_a_faststream_message(
        redis_server: RedisServer, redis: Redis) -> None:
    event = signup(9)
    # What the reclaimer stored before it kept the whole __data__: the JSON body alone.
    await redis.xadd(dead_letter_stream(REGISTRATION_STREAM), {
        "stream": REGISTRATION_STREAM, "group": "invoicing", "entry_id": "1-9", "error": "old",
        "payload": event.model_dump_json(), "failed_at": "2026-01-01T00:00:00+00:00"})
    await DeadLetterStore(redis, "invoicing").replay_all()
    entries: Any = await redis.xrange(REGISTRATION_STREAM)
    [data] = [fields[b"__data__"] for _id, fields in entries]
    assert wire.is_faststream(data)
    body, headers = wire.decode(data)
    assert parse_event(body) == event and headers["message_id"] == str(event.event_id)
