"""The mail sender against a real SMTP server and SQLite/PostgreSQL: claims, leases, the log's guarantees."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.notifications import domain
from services.notifications.handlers import record_emails
from services.notifications.models import MODELS, Email
from services.notifications.sender import MailSender
from services.notifications.settings import NotificationsSettings
from shared.db import create_tables, make_engine, transaction
from shared.events import utc_now
from tests.support.notifications import signup_event
from tests.support.servers import SmtpServer

SENDER = "Reglab <natverk@reglab.example>"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_tables(engine, MODELS)
    yield engine
    engine.dispose()


def sender_settings(smtp_server: SmtpServer, tmp_path: Path, **overrides: object) -> NotificationsSettings:
    values: dict[str, object] = {
        "environment": "development", "smtp_port": smtp_server.port, "var_dir": tmp_path,
        "retry_base_seconds": 0.02, "retry_ceiling_seconds": 0.1, "sender_poll_seconds": 0.02,
    }
    values.update(overrides)
    return NotificationsSettings(**values)  # type: ignore[arg-type]


def record_signups(engine: Engine, count: int) -> None:
    with transaction(engine) as session:
        for n in range(count):
            event = signup_event(signup_id=n, contact_email=f"kontakt{n}@kommun.example")
            record_emails(session, event, domain.signup_emails(event), sender=SENDER, now=utc_now())


def rows(engine: Engine) -> list[Email]:
    with Session(engine) as session:
        return list(session.exec(select(Email).order_by(Email.id)))  # type: ignore[arg-type]


async def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_two_senders_sharing_a_database_never_send_the_same_email(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    record_signups(engine, 80)
    settings = sender_settings(smtp_server, tmp_path, sender_batch=7, sender_concurrency=3)
    first = MailSender(engine, settings, instance="instance-a")
    second = MailSender(engine, settings, instance="instance-b")
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        await eventually(lambda: first.sent + second.sent == 80)
    finally:
        await stop(*tasks)

    ids = [str(message["Message-ID"]) for message in smtp_server.messages]
    assert len(ids) == 80 and len(set(ids)) == 80
    assert {row.status for row in rows(engine)} == {"sent"}
    assert {row.attempts for row in rows(engine)} == {1}
    assert sorted(ids) == sorted(row.message_id for row in rows(engine))


async def test_an_email_claimed_by_a_sender_that_died_is_sent_by_another_after_the_lease(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    record_signups(engine, 1)
    settings = sender_settings(smtp_server, tmp_path, claim_lease_seconds=60)
    dead = MailSender(engine, settings, instance="dead")
    assert len(dead._claim(10)) == 1  # claimed, then the process died before sending

    alive = MailSender(engine, settings, instance="alive")
    assert alive._claim(10) == []  # still leased to the dead one

    later = MailSender(engine, settings, instance="alive",
                       clock=lambda: utc_now() + timedelta(seconds=61))
    task = asyncio.create_task(later.run())
    try:
        await eventually(lambda: later.sent == 1)
    finally:
        await stop(task)
    assert len(smtp_server.messages) == 1
    [row] = rows(engine)
    assert row.status == "sent" and row.claimed_by is None


async def test_a_sender_stopped_mid_batch_hands_back_what_it_did_not_send(
        engine: Engine, tmp_path: Path) -> None:
    record_signups(engine, 30)
    # A server that accepts connections and never greets: the batch stays in flight.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings = NotificationsSettings(environment="development", smtp_port=silent.getsockname()[1],
                                         sender_concurrency=1, smtp_timeout_seconds=30)
        sender = MailSender(engine, settings, instance="stopping")
        task = asyncio.create_task(sender.run())
        await eventually(lambda: all(row.claimed_by == "stopping" for row in rows(engine)))
        await stop(task)
    after = rows(engine)
    # Nothing left leased and nothing counted as tried: the next start sends them at once.
    assert [row.claimed_by for row in after] == [None] * 30
    assert {(row.status, row.attempts) for row in after} == {("queued", 0)}
    assert all(row.next_attempt_at <= utc_now() for row in after)


async def test_a_retry_sends_the_byte_identical_message(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    record_signups(engine, 1)
    [stored] = rows(engine)
    smtp_server.refuse()
    sender = MailSender(engine, sender_settings(smtp_server, tmp_path), instance="one")
    task = asyncio.create_task(sender.run())
    try:
        await eventually(lambda: rows(engine)[0].attempts >= 2)
        smtp_server.refuse(False)
        await eventually(lambda: sender.sent == 1)
    finally:
        await stop(task)
    [message] = smtp_server.messages
    assert message.as_bytes(policy=message.policy.clone(linesep="\r\n")) == stored.raw
    assert rows(engine)[0].raw == stored.raw


async def test_lines_starting_with_a_dot_arrive_unchanged(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    text = "Hej!\n.\n.punkt först\n..två punkter\nslut\n"
    outgoing = domain.OutgoingEmail(kind=domain.EmailKind.signup_confirmation, to_address="a@kommun.example",
                                    to_name="", subject="Punkter", text=text)
    with transaction(engine) as session:
        record_emails(session, signup_event(), [outgoing], sender=SENDER, now=utc_now())
    sender = MailSender(engine, sender_settings(smtp_server, tmp_path), instance="one")
    task = asyncio.create_task(sender.run())
    try:
        await eventually(lambda: sender.sent == 1)
    finally:
        await stop(task)
    [message] = smtp_server.messages
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == text
    assert message.as_bytes(policy=message.policy.clone(linesep="\r\n")) == rows(engine)[0].raw


async def test_with_a_maximum_an_email_is_marked_failed_after_that_many_attempts(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    record_signups(engine, 1)
    smtp_server.refuse()
    sender = MailSender(engine, sender_settings(smtp_server, tmp_path, max_attempts=3), instance="one")
    task = asyncio.create_task(sender.run())
    try:
        await eventually(lambda: rows(engine)[0].status == "failed")
    finally:
        await stop(task)
    row = rows(engine)[0]  # the confirmation (a failure may cause further rows, e.g. a staff alert)
    assert row.kind == "signup_confirmation" and row.status == "failed"
    assert row.attempts == 3 and row.last_error is not None and "451" in row.last_error
    assert smtp_server.to("kontakt0@kommun.example") == []


def test_the_log_holds_one_email_per_event_and_recipient(engine: Engine) -> None:
    event = signup_event()
    with transaction(engine) as session:
        record_emails(session, event, domain.signup_emails(event), sender=SENDER, now=utc_now())
    with pytest.raises(IntegrityError), transaction(engine) as session:
        record_emails(session, event, domain.signup_emails(event), sender=SENDER, now=utc_now())
    assert len(rows(engine)) == 1


def test_an_event_with_an_unusable_address_is_logged_as_failed_not_sent(engine: Engine) -> None:
    event = signup_event(contact_email="inte en adress")
    with transaction(engine) as session:
        record_emails(session, event, domain.signup_emails(event), sender=SENDER, now=utc_now())
    [row] = rows(engine)
    assert row.status == "failed" and row.raw == b""
    assert row.last_error is not None and "address" in row.last_error


async def test_a_shutdown_that_arrives_as_the_sender_is_woken_still_stops_it(
        engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    # The race once hung a test run: the recorder's wake and the shutdown's cancel in one turn.
    settings = sender_settings(smtp_server, tmp_path, sender_poll_seconds=60)
    sender = MailSender(engine, settings, instance="one")
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.3)  # nothing queued: the claimer waits for a wake
    sender.wake()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
