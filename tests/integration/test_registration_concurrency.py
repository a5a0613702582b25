"""Duplicate sign-ups racing each other end as one organisation and one membership, never a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from services.registration.handlers import (
    SignupResult,
    network_refs,
    register_signup,
    register_signup_retrying,
    seed,
)
from services.registration.meetings.core import weeks_of
from services.registration.meetings.models import MEETING_MODELS, NetworkWeek
from services.registration.meetings.schedule import set_network_weeks
from services.registration.models import MODELS
from services.registration.validation import validate_signup
from shared.audit import AuditEntry, entries_for
from shared.db import create_tables, make_engine, transaction
from shared.events import utc_now
from shared.outbox import OutboxMessage
from shared.policy import load_policies
from tests.support.registration import registration_client, row_counts, signup_body
from tests.support.servers import RedisServer

POLICY = load_policies()[2018]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_tables(engine, [*MODELS, *MEETING_MODELS, OutboxMessage])
    seed(engine)
    yield engine
    engine.dispose()


def request_for(engine: Engine, org_number: str = "556677-8899"):
    with Session(engine) as session:
        refs = network_refs(session)
    flat = {
        "organisation.name": "Region Exempel", "organisation.org_number": org_number,
        "organisation.invoice_email": "faktura@region.example", "organisation.address.street": "Storgatan 1",
        "organisation.address.postal_code": "111 22", "organisation.address.city": "Stockholm",
        "organisation.buyer_reference": "Anna", "contact.name": "Anna",
        "contact.email": "anna@region.example", "networks": ["rus"], "year": 2018,
    }
    return validate_signup(flat, networks=refs, policy_years={2018})


def test_a_signup_that_loses_the_race_retries_and_finds_the_winner_s_rows(
        engine: Engine, database_url: str) -> None:
    request = request_for(engine)
    results: list[SignupResult] = []
    failures: list[BaseException] = []

    def loser() -> None:
        try:
            results.append(register_signup_retrying(engine, request, policy=POLICY, now=utc_now(),
                                                    correlation_id="loser"))
        except BaseException as error:
            failures.append(error)

    with transaction(engine) as session:
        winner = register_signup(session, request, policy=POLICY, now=utc_now(), correlation_id="winner",
                                 token="winner-token")
        thread = threading.Thread(target=loser)
        thread.start()
        # The loser now waits: on PostgreSQL on the organisation's unique index (then fails and
        # retries), on SQLite for the write lock (BEGIN IMMEDIATE).
        time.sleep(0.5)
        assert thread.is_alive()
    thread.join(30)

    assert failures == []
    [second] = results
    assert second.organisation_id == winner.organisation_id
    assert second.memberships[0].id == winner.memberships[0].id
    assert (winner.memberships[0].created, second.memberships[0].created) == (True, False)
    counts = row_counts(database_url)
    assert (counts["reg_organisation"], counts["reg_membership"], counts["reg_signup"], counts["outbox"]) == (
        1, 1, 2, 2)


def test_concurrent_identical_api_signups_all_succeed_as_one_membership(
        database_url: str, redis_server: RedisServer) -> None:
    with registration_client(database_url, redis_server.url) as client, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: client.post("/api/v1/signups", json=signup_body(networks=["rus"])),
                                range(6)))
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers if a.status_code != 201]
    created = [a.json()["memberships"][0]["created"] for a in answers]
    assert created.count(True) == 1
    assert len({a.json()["memberships"][0]["id"] for a in answers}) == 1
    counts = row_counts(database_url)
    assert (counts["reg_organisation"], counts["reg_membership"], counts["reg_signup"]) == (1, 1, 6)


def test_two_staff_saving_network_weeks_at_once_both_succeed_and_the_last_wins(database_url: str) -> None:
    """The second save waits for the first (PostgreSQL: a table lock; SQLite: BEGIN IMMEDIATE)."""
    engine = make_engine(database_url)
    create_tables(engine, [NetworkWeek, OutboxMessage, AuditEntry])
    first_saved = threading.Event()

    def save(weeks: tuple[int, ...], actor: str, hold: float) -> None:
        with transaction(engine) as session:
            set_network_weeks(session, 2027, weeks, actor=actor, remote_addr="127.0.0.1", now=utc_now(),
                              correlation_id=f"corr-{actor}")
            first_saved.set()
            time.sleep(hold)  # still uncommitted: the other save runs into it

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(save, (6, 11, 45), "anna", 0.5)
            assert first_saved.wait(10)
            second = pool.submit(save, (6, 12, 46), "bertil", 0.0)
            first.result(timeout=30)
            second.result(timeout=30)  # no IntegrityError on the shared (2027, 6)
        with Session(engine) as session:
            assert weeks_of(session, 2027) == (6, 12, 46)
            audited = [entry.actor for entry in entries_for(session, "network_weeks:2027")]
            published = session.exec(select(OutboxMessage.type)).all()
        assert sorted(audited) == ["anna", "bertil"]
        assert published.count("network_weeks.set") == 2
    finally:
        engine.dispose()
