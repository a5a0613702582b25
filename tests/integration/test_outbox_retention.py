"""Published outbox rows are deleted after OUTBOX_RETENTION_DAYS, and on erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from shared.db import create_tables, make_engine, transaction
from shared.events import utc_now
from shared.outbox import OutboxMessage, add_event, forget_published, prune_published
from tests.integration.test_outbox_and_consumer import signup


def stage(database_url: str, count: int) -> tuple[Engine, list[int]]:
    engine = make_engine(database_url)
    create_tables(engine, [OutboxMessage])
    with transaction(engine) as session:
        for i in range(count):
            add_event(session, signup(i))
    with Session(engine) as session:
        ids = [row.id for row in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]
    return engine, [i for i in ids if i is not None]


def publish(engine: Engine, ids: list[int], days_ago: float) -> None:
    with transaction(engine) as session:
        session.connection().execute(
            update(OutboxMessage.__table__)  # type: ignore[attr-defined]
            .where(OutboxMessage.__table__.c.id.in_(ids))  # type: ignore[attr-defined]
            .values(published_at=utc_now() - timedelta(days=days_ago)))


def left(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return [row.id for row in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
                if row.id is not None]


def test_rows_published_longer_ago_than_the_retention_are_deleted_in_batches(database_url: str) -> None:
    engine, ids = stage(database_url, 12)
    publish(engine, ids[:7], days_ago=8)  # old: to go
    publish(engine, ids[7:10], days_ago=6)  # young: kept
    # ids[10:] never published: kept whatever their age, they are still to be delivered

    deleted = prune_published(engine, now=utc_now(), keep_days=7, batch=3)  # three batches: 3 + 3 + 1

    assert deleted == 7
    assert left(engine) == ids[7:]
    assert prune_published(engine, now=utc_now() + timedelta(days=1.5), keep_days=7, batch=3) == 3
    assert left(engine) == ids[10:], "unpublished rows stay, however old"
    engine.dispose()


def test_erasure_deletes_published_rows_naming_the_address_and_keeps_unpublished_ones(
        database_url: str) -> None:
    engine, ids = stage(database_url, 3)  # every signup() names anna@x.example
    with transaction(engine) as session:
        add_event(session, signup(3).model_copy(update={"contact": signup(3).contact.model_copy(
            update={"email": "bo@x.example", "name": "Bo"})}))
    publish(engine, ids[:2], days_ago=0)
    publish(engine, [ids[-1] + 1], days_ago=0)  # Bo's row, published

    with transaction(engine) as session:
        erased = forget_published(session, "anna@x.example")
        assert forget_published(session, "%@x.example") == 0, "LIKE wildcards are taken literally"

    assert erased == 2
    assert left(engine) == [ids[2], ids[-1] + 1], "Anna's unpublished row is still delivered, Bo's kept"
    engine.dispose()
