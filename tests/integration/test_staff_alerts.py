"""Staff are told, by one email each, of a dead letter and of an email that failed for good.

The notifications service on a real redis-server, SQLite/PostgreSQL and an
aiosmtpd server that refuses chosen recipients.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlmodel import Session, select

from services.notifications import alerts, domain
from services.notifications.app import create_app
from services.notifications.handlers import record_emails
from services.notifications.models import MODELS, Email
from services.notifications.settings import NotificationsSettings
from shared.audit import entries_for
from shared.db import create_tables, make_engine, transaction
from shared.deadletters import DeadLetterStore
from shared.events import INVOICING_STREAM, OPERATIONS_STREAM, utc_now
from shared.web import CSRF_COOKIE
from tests.integration.test_notifications_service import TOKEN, eventually, make_settings
from tests.support.notifications import publish, signup_event
from tests.support.servers import RedisServer, SmtpServer

STAFF = "kansliet@reglab.example"
CONTACT = "anna@region-varmland.example"
SENDER = "Reglab <natverk@reglab.example>"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def staff_settings(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path,
                   **overrides: Any) -> NotificationsSettings:
    settings = make_settings(database_url, redis_server.url, smtp_server.port, tmp_path)
    return settings.model_copy(update={"staff_email": STAFF, **overrides})


@pytest.fixture
def client(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer,
           tmp_path: Path) -> Iterator[TestClient]:
    settings = staff_settings(database_url, redis_server, smtp_server, tmp_path, max_attempts=3)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def log_rows(client: TestClient, status: str | None = None) -> list[dict[str, Any]]:
    params = {"status": status} if status else {}
    rows: list[dict[str, Any]] = client.get("/api/v1/emails", params=params, headers=AUTH).json()["emails"]
    return rows


def settled(client: TestClient, rows: int) -> bool:
    """``rows`` emails recorded and none left queued."""
    found = log_rows(client)
    return len(found) == rows and all(row["status"] != "queued" for row in found)


def publish_raw(redis_url: str, stream: str, body: str) -> None:
    async def go() -> None:
        broker = RedisBroker(redis_url)
        await broker.connect()
        try:
            await broker.publish(body, stream=stream)
        finally:
            await broker.stop()

    asyncio.run(go())


def dead_letters(redis_url: str, group: str) -> list[Any]:
    async def go() -> list[Any]:
        redis = Redis.from_url(redis_url)
        try:
            return await DeadLetterStore(redis, group).letters()
        finally:
            await redis.aclose()

    return asyncio.run(go())


def text_of(message: Any) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def login(client: TestClient) -> str:
    """Log in; returns the CSRF token of the email log page."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"username": "admin", "password": "secret-password",
                                "csrf_token": token.group(1), "next": "/"})
    assert client.get("/").status_code == 200
    cookie = client.cookies.get(CSRF_COOKIE)  # what the page's forms carry
    assert cookie is not None
    return cookie


def test_a_dead_letter_sends_staff_exactly_one_email_telling_how_to_replay_it(
        client: TestClient, redis_server: RedisServer, smtp_server: SmtpServer) -> None:
    publish_raw(redis_server.url, INVOICING_STREAM, '{"type": "invoice.issued", "number": 7}')

    eventually(lambda: smtp_server.to(STAFF), what="the staff email")
    [letter] = dead_letters(redis_server.url, "notifications")
    time.sleep(1.0)  # anything more would have arrived by now
    [message] = smtp_server.to(STAFF)
    assert message["Subject"] == "Dött meddelande i notifications: invoice.issued"
    text = text_of(message)
    assert f"python -m services.notifications dead-letters replay {letter.id}" in text
    assert "invalid payload" in text and INVOICING_STREAM in text
    [row] = log_rows(client)
    assert row["kind"] == "dead_letter_alert" and row["status"] == "sent"
    assert row["source_event_type"] == "dead_letter.recorded"

    metrics = client.get("/metrics").text
    assert f'reglab_dead_letters{{stream="{INVOICING_STREAM}"}} 1.0' in metrics
    assert f'reglab_consumer_lag{{group="notifications",stream="{OPERATIONS_STREAM}"}}' in metrics


def test_an_unreadable_alert_is_dead_lettered_without_alerting_about_itself(
        client: TestClient, redis_server: RedisServer, smtp_server: SmtpServer) -> None:
    publish_raw(redis_server.url, OPERATIONS_STREAM, '{"type": "dead_letter.recorded"}')

    eventually(lambda: dead_letters(redis_server.url, "notifications"), what="the dead letter")
    time.sleep(1.0)
    assert smtp_server.messages == [] and log_rows(client) == []


def test_an_email_refused_past_the_ceiling_is_failed_and_staff_are_told_once(
        client: TestClient, redis_server: RedisServer, smtp_server: SmtpServer) -> None:
    smtp_server.refuse_recipients(CONTACT)
    publish(redis_server.url, signup_event())

    eventually(lambda: settled(client, 2), what="the confirmation failed and the alert sent")
    time.sleep(1.0)  # further attempts or alerts would have happened by now
    [failed] = log_rows(client, "failed")
    assert failed["recipient"] == CONTACT and failed["attempts"] == 3 and "451" in failed["last_error"]
    [alert] = smtp_server.to(STAFF)
    assert alert["Subject"] == f"E-post kunde inte levereras till {CONTACT}"
    text = text_of(alert)
    assert "Bekräftelse av anmälan" in text and "451" in text and "Skicka igen" in text
    assert smtp_server.to(CONTACT) == []


def test_skicka_igen_on_the_log_page_queues_a_failed_email_which_then_goes_out_once_and_is_audited(
        client: TestClient, redis_server: RedisServer, smtp_server: SmtpServer, database_url: str) -> None:
    smtp_server.refuse_recipients(CONTACT)
    publish(redis_server.url, signup_event())
    eventually(lambda: settled(client, 2), what="the confirmation failed")
    [failed] = log_rows(client, "failed")

    assert client.post(f"/emails/{failed['id']}/send-again").status_code == 303  # to the login
    token = login(client)
    page = client.get("/", params={"status": "failed"}).text
    assert f'action="/emails/{failed["id"]}/send-again"' in page and "Skicka igen" in page
    assert client.post(f"/emails/{failed['id']}/send-again", data={}).status_code == 400

    smtp_server.refuse_recipients()  # the cause is fixed
    again = client.post(f"/emails/{failed['id']}/send-again", data={"csrf_token": token})
    assert again.status_code == 303
    eventually(lambda: smtp_server.to(CONTACT), what="the confirmation sent")
    eventually(lambda: settled(client, 2), what="nothing left queued")
    assert len(smtp_server.to(CONTACT)) == 1 and len(smtp_server.to(STAFF)) == 1
    assert client.post(f"/api/v1/emails/{failed['id']}/send-again", headers=AUTH).status_code == 409
    engine = make_engine(database_url)
    with Session(engine) as session:
        [entry] = entries_for(session, f"email:{failed['id']}")
    engine.dispose()
    assert (entry.actor, entry.action) == ("admin", "email.send_again") and entry.remote_addr


def test_a_failing_staff_alert_raises_no_further_alert(
        database_url: str, redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.refuse_recipients(CONTACT, STAFF)
    settings = staff_settings(database_url, redis_server, smtp_server, tmp_path, max_attempts=2)
    with TestClient(create_app(settings)) as client:
        publish(redis_server.url, signup_event())
        eventually(lambda: settled(client, 2), what="the confirmation and its alert failed")
        time.sleep(1.0)
        rows = log_rows(client)
        assert sorted(row["kind"] for row in rows) == ["mail_failed_alert", "signup_confirmation"]
        assert {row["status"] for row in rows} == {"failed"}
    assert smtp_server.messages == []


def test_an_email_that_cannot_be_built_is_failed_at_once_and_staff_are_told(
        client: TestClient, redis_server: RedisServer, smtp_server: SmtpServer) -> None:
    publish(redis_server.url, signup_event(contact_email="inte en adress"))

    eventually(lambda: smtp_server.to(STAFF), what="the staff email")
    eventually(lambda: settled(client, 2), what="the alert sent")
    [failed] = log_rows(client, "failed")
    assert failed["kind"] == "signup_confirmation" and failed["attempts"] == 0
    assert "be om en" in text_of(smtp_server.to(STAFF)[0])
    token = login(client)
    assert "send-again" not in client.get("/", params={"status": "failed"}).text, "nothing to send"
    assert client.post(f"/emails/{failed['id']}/send-again", data={"csrf_token": token}).status_code == 303
    assert log_rows(client, "failed")[0]["status"] == "failed"


def test_emails_the_sender_gives_up_on_together_are_told_in_one_alert(database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine, MODELS)
    with transaction(engine) as session:
        for n in range(3):
            event = signup_event(signup_id=n, contact_email=f"kontakt{n}@kommun.example")
            record_emails(session, event, domain.signup_emails(event), sender=SENDER, now=utc_now())
    with transaction(engine) as session:
        assert alerts.record_failure_alert(session.connection(), [1, 2, 3], staff_email=STAFF,
                                           sender=SENDER, now=utc_now())
        assert not alerts.record_failure_alert(session.connection(), [], staff_email=STAFF,
                                               sender=SENDER, now=utc_now())
    with Session(engine) as session:
        [alert] = session.exec(select(Email).where(Email.kind == "mail_failed_alert")).all()
    engine.dispose()
    assert alert.recipient == STAFF and alert.subject == "3 e-postmeddelanden kunde inte levereras"
    assert all(f"kontakt{n}@kommun.example".encode() in alert.raw for n in range(3))
