"""The shared mechanisms on a real redis-server and real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlmodel import Session, select

from shared.consumer import ProcessedEvent, dead_letter_stream, ensure_group, subscribe
from shared.db import create_tables, make_engine, transaction
from shared.events import (
    REGISTRATION_STREAM,
    Address,
    Contact,
    OrganisationSnapshot,
    SignupCompleted,
    utc_now,
)
from shared.outbox import OutboxMessage, OutboxRelay, add_event, outbox_backlog
from tests.support.servers import RedisServer
from tests.support.streams import read_events, read_headers


def signup(signup_id: int) -> SignupCompleted:
    organisation = OrganisationSnapshot(
        id=1, name="Region Test", org_number="2321000016", invoice_email="faktura@region.example",
        address=Address(street="Storgatan 1", postal_code="111 22", city="Stockholm"))
    return SignupCompleted(occurred_at=utc_now(), correlation_id=f"corr-{signup_id}", signup_id=signup_id,
                           organisation=organisation, contact=Contact(name="Anna", email="anna@x.example"),
                           year=2018, memberships=())


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def acked(redis: Redis, timeout: float = 10.0) -> None:
    """Acks follow the handler's return; wait for the pending list to empty."""
    deadline = time.monotonic() + timeout
    while (await redis.xpending(REGISTRATION_STREAM, "invoicing"))["pending"]:
        assert time.monotonic() < deadline, "entries left pending"
        await asyncio.sleep(0.05)


@pytest.fixture
async def broker(redis_server: RedisServer) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(redis_server.url)
    yield broker
    await broker.stop()


async def publish_rows(broker: RedisBroker, rows: list[OutboxMessage]) -> None:
    for row in rows:
        await broker.publish(row.payload, stream=row.stream, headers={"message_id": row.event_id},
                             correlation_id=row.correlation_id)


async def test_the_relay_publishes_committed_events_in_order_with_the_event_id_as_message_id(
        database_url: str, redis_server: RedisServer, broker: RedisBroker) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [OutboxMessage])
    events = [signup(i) for i in range(5)]
    for event in events:
        with transaction(engine) as session:
            add_event(session, event)
    with pytest.raises(RuntimeError), transaction(engine) as session:
        add_event(session, signup(99))
        raise RuntimeError("rolled back: its event must never be published")

    await broker.connect()
    relay = OutboxRelay(engine, lambda rows: publish_rows(broker, rows), poll_seconds=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: outbox_backlog(engine) == 0)
    finally:
        task.cancel()
    published = read_events(redis_server.url, REGISTRATION_STREAM)
    assert [e.signup_id for e in published] == [0, 1, 2, 3, 4]
    headers = read_headers(redis_server.url, REGISTRATION_STREAM)
    assert [h["message_id"] for h in headers] == [str(e.event_id) for e in events]
    engine.dispose()


async def test_a_shutdown_that_arrives_as_the_relay_is_notified_still_stops_it(database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [OutboxMessage])

    async def publish(rows: list[OutboxMessage]) -> None:
        raise AssertionError("nothing to publish")

    relay = OutboxRelay(engine, publish, poll_seconds=60)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.3)  # an empty outbox: the relay waits for a notify
    relay.notify()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    engine.dispose()
    assert task in done and task.cancelled()


async def test_a_consumer_handles_an_event_once_even_when_it_is_delivered_twice(
        database_url: str, redis_server: RedisServer, broker: RedisBroker) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    handled: list[int] = []

    def handler(_session: Session, event: Any) -> None:
        handled.append(event.signup_id)

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": handler}, batch=10)
    await broker.start()
    event = signup(7)
    for _ in range(2):  # the relay may publish a row twice after a crash
        await broker.publish(event.model_dump_json(), stream=REGISTRATION_STREAM,
                             headers={"message_id": str(event.event_id)})
    await broker.publish(signup(8).model_dump_json(), stream=REGISTRATION_STREAM)

    await eventually(lambda: handled == [7, 8])
    await acked(redis)
    with Session(engine) as session:
        assert len(session.exec(select(ProcessedEvent)).all()) == 2
    await redis.aclose()
    engine.dispose()


async def test_a_failing_handler_leaves_the_message_pending_and_commits_nothing(
        database_url: str, redis_server: RedisServer, broker: RedisBroker) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    attempts: list[int] = []

    def handler(_session: Session, event: Any) -> None:
        attempts.append(event.signup_id)
        raise RuntimeError("database said no")

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": handler}, batch=10)
    await broker.start()
    await broker.publish(signup(1).model_dump_json(), stream=REGISTRATION_STREAM)
    await eventually(lambda: attempts == [1])
    await asyncio.sleep(0.2)
    pending = await redis.xpending(REGISTRATION_STREAM, "invoicing")
    assert pending["pending"] == 1, "not acked: it must stay pending for the reclaimer"
    with Session(engine) as session:
        assert session.exec(select(ProcessedEvent)).all() == []
    await redis.aclose()
    engine.dispose()


async def test_an_invalid_payload_goes_to_dead_letters_instead_of_looping(
        redis_server: RedisServer, broker: RedisBroker, tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/c.db")
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={}, batch=10)
    await broker.start()
    await broker.publish('{"type": "signup.completed", "year": "soon"}', stream=REGISTRATION_STREAM)

    async def dead() -> list[Any]:
        found: Any = await redis.xrange(dead_letter_stream(REGISTRATION_STREAM))
        return list(found)

    deadline = time.monotonic() + 10
    letters: list[Any] = []
    while time.monotonic() < deadline and not letters:
        letters = await dead()
        await asyncio.sleep(0.05)
    assert len(letters) == 1
    fields = letters[0][1]
    assert fields[b"group"] == b"invoicing"
    assert b"invalid payload" in fields[b"error"]
    await acked(redis)
    await redis.aclose()
    engine.dispose()


def test_groups_are_created_at_zero_so_earlier_events_are_read(redis_server: RedisServer) -> None:
    async def scenario() -> int:
        redis = Redis.from_url(redis_server.url)
        await redis.xadd(REGISTRATION_STREAM, {"x": "published before the service ever started"})
        await ensure_group(redis, REGISTRATION_STREAM, "late")
        await ensure_group(redis, REGISTRATION_STREAM, "late")  # BUSYGROUP is fine
        entries: Any = await redis.xreadgroup("late", "c1", {REGISTRATION_STREAM: ">"})
        await redis.aclose()
        return len(entries[0][1])

    assert asyncio.run(scenario()) == 1




async def test_the_reclaimer_retries_a_failed_entry_until_it_succeeds(
        database_url: str, redis_server: RedisServer, broker: RedisBroker) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    attempts: list[int] = []

    def flaky(_session: Session, event: Any) -> None:
        attempts.append(event.signup_id)
        if len(attempts) < 3:
            raise RuntimeError("database briefly unavailable")

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": flaky}, batch=10, reclaim_idle_ms=200, max_deliveries=5)
    await broker.start()
    await broker.publish(signup(3).model_dump_json(), stream=REGISTRATION_STREAM)
    await eventually(lambda: len(attempts) == 3)
    await acked(redis)
    with Session(engine) as session:
        assert len(session.exec(select(ProcessedEvent)).all()) == 1
    assert await redis.xlen(dead_letter_stream(REGISTRATION_STREAM)) == 0
    await redis.aclose()
    engine.dispose()


async def test_an_entry_that_keeps_failing_goes_to_dead_letters_with_its_error(
        redis_server: RedisServer, broker: RedisBroker, tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/c.db")
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    attempts: list[int] = []

    def broken(_session: Session, event: Any) -> None:
        attempts.append(event.signup_id)
        raise ValueError("no fee policy for this year")

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": broken}, batch=10, reclaim_idle_ms=150, max_deliveries=3)
    await broker.start()
    await broker.publish(signup(4).model_dump_json(), stream=REGISTRATION_STREAM)
    await broker.publish(signup(5).model_dump_json(), stream=REGISTRATION_STREAM)

    deadline = time.monotonic() + 20
    while await redis.xlen(dead_letter_stream(REGISTRATION_STREAM)) < 2:
        assert time.monotonic() < deadline, f"not dead-lettered; attempts {attempts}"
        await asyncio.sleep(0.05)
    await acked(redis)
    assert sorted(attempts) == [4, 4, 4, 5, 5, 5], "exactly max_deliveries attempts each"
    found: Any = await redis.xrange(dead_letter_stream(REGISTRATION_STREAM))
    assert all(b"no fee policy for this year" in fields[b"error"] for _id, fields in found)
    await redis.aclose()
    engine.dispose()


async def test_one_failing_event_in_a_batch_does_not_hold_up_the_others(
        database_url: str, redis_server: RedisServer, broker: RedisBroker) -> None:
    engine = make_engine(database_url)
    create_tables(engine, [ProcessedEvent])
    redis = Redis.from_url(redis_server.url)
    calls: list[int] = []

    def poisoned_by_13(_session: Session, event: Any) -> None:
        calls.append(event.signup_id)
        if event.signup_id == 13:
            raise ValueError("unlucky")

    await ensure_group(redis, REGISTRATION_STREAM, "invoicing")
    publisher = RedisBroker(redis_server.url)
    await publisher.connect()
    for i in range(10, 17):  # all waiting before the consumer starts, so one read takes them all
        await publisher.publish(signup(i).model_dump_json(), stream=REGISTRATION_STREAM)
    await publisher.stop()
    subscribe(broker, redis, service="invoicing", stream=REGISTRATION_STREAM, engine=engine,
              handlers={"signup.completed": poisoned_by_13}, batch=50, reclaim_idle_ms=200,
              max_deliveries=2)
    await broker.start()

    deadline = time.monotonic() + 20
    while await redis.xlen(dead_letter_stream(REGISTRATION_STREAM)) < 1:
        assert time.monotonic() < deadline, f"not dead-lettered; calls {calls}"
        await asyncio.sleep(0.05)
    await acked(redis)
    with Session(engine) as session:
        processed = session.exec(select(ProcessedEvent)).all()
    assert len(processed) == 6, "every other event committed exactly once"
    assert calls.count(13) == 2, "the failing handler ran once per delivery"
    await redis.aclose()
    engine.dispose()


async def test_two_relays_on_postgresql_share_the_outbox_without_publishing_a_row_twice() -> None:
    from tests.support.servers import postgres_database

    with postgres_database() as url:
        engine = make_engine(url)
        create_tables(engine, [OutboxMessage])
        events = [signup(i) for i in range(300)]
        for start in range(0, len(events), 50):
            with transaction(engine) as session:
                for event in events[start:start + 50]:
                    add_event(session, event)

        published: dict[str, list[str]] = {"a": [], "b": []}

        def publisher(name: str) -> Callable[[list[OutboxMessage]], Any]:
            async def publish(rows: list[OutboxMessage]) -> None:
                await asyncio.sleep(0.01)  # hold the row locks a while, so the relays overlap
                published[name] += [row.event_id for row in rows]
            return publish

        relays = [OutboxRelay(engine, publisher(name), batch=20, poll_seconds=0.05) for name in published]
        tasks = [asyncio.create_task(relay.run()) for relay in relays]
        try:
            await eventually(lambda: outbox_backlog(engine) == 0, timeout=30)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        everything = published["a"] + published["b"]
        assert sorted(everything) == sorted(str(e.event_id) for e in events), "each row exactly once"
        assert published["a"] and published["b"], "both relays took part"
        engine.dispose()
