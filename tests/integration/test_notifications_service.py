"""The notifications service on real Redis, SQLite/PostgreSQL and an SMTP server: events in, mail out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from tests.support.notifications import invoice_event, publish, signup_event, small_pdf
from tests.support.servers import RedisServer, SmtpServer, free_port

FINANCE = "ekonomi@reglab.example"
TOKEN = "test-token-0123456789"


def make_settings(database_url: str, redis_url: str, smtp_port: int, tmp_path: Path) -> NotificationsSettings:
    return NotificationsSettings(
        environment="development", database_url=database_url, redis_url=redis_url, smtp_port=smtp_port,
        finance_email=FINANCE, api_token=TOKEN, admin_user="admin", admin_password="secret-password",
        var_dir=tmp_path, retry_base_seconds=0.05, retry_ceiling_seconds=0.3, sender_poll_seconds=0.05,
        smtp_timeout_seconds=5, reclaim_idle_ms=60_000,
    )


@pytest.fixture
def settings(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer,
             tmp_path: Path) -> NotificationsSettings:
    return make_settings(database_url, redis_server.url, smtp_server.port, tmp_path)


@pytest.fixture
def client(settings: NotificationsSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def emails(client: TestClient, status: str | None = None) -> dict[str, Any]:
    params = {"status": status} if status else {}
    response = client.get("/api/v1/emails", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def eventually(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout} s")


def all_sent(client: TestClient, count: int) -> bool:
    """Every email recorded is sent: nothing is left that could still go out."""
    counts = emails(client)["counts"]
    return bool(counts["sent"] == count and counts["queued"] == 0)


def test_a_signup_sends_the_contact_one_confirmation_listing_the_networks(
        client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer) -> None:
    event = signup_event()
    publish(settings.redis_url, event)

    eventually(lambda: all_sent(client, 1), what="the confirmation sent")
    [message] = smtp_server.messages
    assert smtp_server.to("anna@region-varmland.example") == [message]
    assert message["Subject"] == "Bekräftelse: anmälan till Reglabs nätverk 2018"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    for network in ("Analytikernätverket", "Ung region", "RUS-nätverket"):
        assert network in text
    assert "Avgiftsfri" in text

    [row] = emails(client)["emails"]
    assert row["kind"] == "signup_confirmation"
    assert row["status"] == "sent" and row["attempts"] == 1 and row["sent_at"]
    assert row["source_event_id"] == str(event.event_id)
    assert row["source_event_type"] == "signup.completed"
    assert row["correlation_id"] == event.correlation_id
    assert row["message_id"] == message["Message-ID"]


def test_an_invoice_goes_to_the_invoice_address_with_the_pdf_and_a_copy_to_finance(
        client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer) -> None:
    pdf = small_pdf()
    publish(settings.redis_url, invoice_event(number="2018-00042", pdf=pdf))

    eventually(lambda: all_sent(client, 2), what="the invoice and the copy sent")
    [invoice] = smtp_server.to("faktura@region-varmland.example")
    [copy] = smtp_server.to(FINANCE)
    assert invoice["Subject"] == "Faktura 2018-00042 från Reglab"
    for message in (invoice, copy):
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "faktura-2018-00042.pdf"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content() == pdf
    assert invoice["Message-ID"] != copy["Message-ID"]
    kinds = sorted(row["kind"] for row in emails(client)["emails"])
    assert kinds == ["invoice", "invoice_copy"]


def test_an_event_delivered_twice_sends_one_email_per_recipient(
        client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer) -> None:
    invoice = invoice_event(number="2018-00007")
    later = signup_event(signup_id=2)
    # The relay may publish a row twice after a crash; the later event shows when both were read.
    publish(settings.redis_url, invoice, invoice, later)

    eventually(lambda: all_sent(client, 3), what="three emails sent")
    assert len(smtp_server.to("faktura@region-varmland.example")) == 1
    assert len(smtp_server.to(FINANCE)) == 1
    assert len(smtp_server.messages) == 3


def test_an_email_refused_by_the_server_stays_queued_then_is_sent_once_when_it_accepts_again(
        client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer) -> None:
    smtp_server.refuse()
    publish(settings.redis_url, signup_event())

    def retried() -> Any:
        rows = emails(client, "queued")["emails"]
        return rows if rows and rows[0]["attempts"] >= 2 else None

    [row] = eventually(retried, what="two refused attempts")
    assert "451" in row["last_error"] and row["next_attempt_at"]
    assert smtp_server.messages == []

    smtp_server.refuse(False)
    eventually(lambda: all_sent(client, 1), what="the email sent after the refusals")
    assert len(smtp_server.messages) == 1
    [sent] = emails(client)["emails"]
    assert sent["attempts"] >= 3 and sent["last_error"] is None


def test_mail_queued_while_the_smtp_server_is_down_goes_out_once_when_it_is_back(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    settings = make_settings(database_url, redis_server.url, port, tmp_path)
    with TestClient(create_app(settings)) as client:
        publish(settings.redis_url, invoice_event())

        def failing() -> bool:
            rows = emails(client, "queued")["emails"]
            return len(rows) == 2 and all(row["attempts"] >= 1 and row["last_error"] for row in rows)

        eventually(failing, what="two failed attempts")
        server = SmtpServer(port=port)
        server.start()
        try:
            eventually(lambda: all_sent(client, 2), what="both emails sent after the outage")
            recipients = sorted(a.addr_spec for m in server.messages for a in m["To"].addresses)
            assert recipients == [FINANCE, "faktura@region-varmland.example"]
        finally:
            server.stop()


def test_the_email_log_page_needs_a_login_and_then_lists_the_emails(
        client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer) -> None:
    publish(settings.redis_url, signup_event(contact_name="Anna <b>Svensson</b>"))
    eventually(lambda: all_sent(client, 1), what="the confirmation sent")

    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")

    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    login = client.post("/login", data={"username": "admin", "password": "secret-password",
                                        "csrf_token": token.group(1), "next": "/"}, follow_redirects=False)
    assert login.status_code == 303

    page = client.get("/")
    assert page.status_code == 200
    assert "anna@region-varmland.example" in page.text
    assert "Bekräftelse: anmälan till Reglabs nätverk 2018" in page.text
    assert "signup.completed" in page.text
    assert 'class="badge sent"' in page.text
    assert "Skickad (1)" in page.text and "Köad (0)" in page.text
    assert "<script" not in page.text and "style=" not in page.text
    assert "Content-Security-Policy" in page.headers

    assert "anna@region-varmland.example" not in client.get("/", params={"status": "queued"}).text
    assert "anna@region-varmland.example" in client.get("/emails", params={"status": "sent"}).text


def test_the_email_api_needs_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/emails").status_code == 401
    wrong = client.get("/api/v1/emails", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert emails(client) == {"counts": {"queued": 0, "sent": 0, "failed": 0}, "emails": [],
                              "next_before": None}
    assert client.get("/api/v1/emails", params={"status": "lost"},
                      headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 422


def test_health_reports_the_mail_sender_running(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["background_tasks"] is True


def test_metrics_count_emails_by_status(client: TestClient, settings: NotificationsSettings) -> None:
    publish(settings.redis_url, signup_event())
    eventually(lambda: all_sent(client, 1), what="the confirmation sent")
    metrics = client.get("/metrics").text
    assert 'reglab_mail_queue{status="sent"} 1.0' in metrics
    assert 'reglab_mail_queue{status="queued"} 0.0' in metrics
