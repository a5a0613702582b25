"""Meeting events through notifications on real Redis, SQLite/PostgreSQL and SMTP; the staff pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest
from fastapi.testclient import TestClient

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.links import LinkInvalid, verify_link
from tests.support import meeting_events as ev
from tests.support.notifications import publish
from tests.support.servers import RedisServer, SmtpServer

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(
    database_url: str, redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path
) -> NotificationsSettings:
    return NotificationsSettings(
        environment="development",
        database_url=database_url,
        redis_url=redis_server.url,
        smtp_port=smtp_server.port,
        api_token=TOKEN,
        admin_user="admin",
        admin_password="secret-password",
        var_dir=tmp_path,
        secret_key=ev.SECRET,
        registration_public_url=ev.PUBLIC_URL,
        retry_base_seconds=0.05,
        sender_poll_seconds=0.05,
        reclaim_idle_ms=60_000,
        reminder_poll_seconds=3600,
    )


@pytest.fixture
def client(settings: NotificationsSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def sent_kinds(client: TestClient, count: int, timeout: float = 20.0) -> list[tuple[str, str]]:
    """Wait until ``count`` emails are sent and none is queued; (kind, recipient) of each, oldest first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = client.get("/api/v1/emails", headers=AUTH).json()
        if log["counts"]["sent"] >= count and log["counts"]["queued"] == 0:
            return [(e["kind"], e["recipient"]) for e in reversed(log["emails"])]
        time.sleep(0.05)
    raise AssertionError(f"{count} emails not sent within {timeout} s")


def calendar(message: EmailMessage) -> icalendar.Event:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    content = part.get_content()
    parsed = icalendar.Calendar.from_ical(content.encode() if isinstance(content, str) else content)
    [event] = parsed.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


def test_a_scheduled_meeting_invites_every_invitee_but_the_unsubscribed_with_a_calendar_invitation(
    client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer
) -> None:
    publish(settings.redis_url, ev.unsubscribed(2), ev.scheduled())

    assert sorted(sent_kinds(client, 2)) == [
        ("meeting_invitation", "kontakt1@kommun.example"),
        ("meeting_invitation", "kontakt3@kommun.example"),
    ]
    assert smtp_server.to("kontakt2@kommun.example") == []
    [message] = smtp_server.to("kontakt1@kommun.example")
    vevent = calendar(message)
    assert str(vevent["UID"]) == "meeting-12@reglab" and vevent.decoded("DTSTART") == ev.STARTS
    text = message.get_body(("plain",))
    assert text is not None and f"{ev.PUBLIC_URL}/moten/anmalan/" in text.get_content()


def test_participants_get_a_confirmation_a_waiting_notice_a_promotion_and_a_receipt(
    client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer
) -> None:
    info = ev.meeting(capacity=1)
    first, second = ev.participant(40, 1), ev.participant(41, 2)
    publish(
        settings.redis_url,
        ev.scheduled(info, invitees=()),
        ev.registered(info, first),
        ev.registered(info, second, status="waiting"),
        ev.participant_cancelled(info, first),
        ev.promoted(info, second),
    )

    assert sent_kinds(client, 4) == [
        ("participant_registered", "kontakt1@kommun.example"),
        ("participant_waiting", "kontakt2@kommun.example"),
        ("participant_cancelled", "kontakt1@kommun.example"),
        ("participant_promoted", "kontakt2@kommun.example"),
    ]
    promotion = [m for m in smtp_server.to("kontakt2@kommun.example") if "plats" in str(m["Subject"])]
    assert len(promotion) == 1 and str(calendar(promotion[0])["UID"]) == "meeting-12@reglab"


def test_an_update_and_a_cancellation_reach_participants_and_invitees_once_each(
    client: TestClient, settings: NotificationsSettings, smtp_server: SmtpServer
) -> None:
    info = ev.meeting()
    moved = ev.meeting(
        sequence=1, starts_at=ev.STARTS + timedelta(days=1), ends_at=ev.ENDS + timedelta(days=1)
    )
    publish(
        settings.redis_url,
        ev.scheduled(info, invitees=(ev.invitee(1), ev.invitee(2))),
        ev.registered(info, ev.participant(40, 1)),
        ev.updated(moved, (("Datum", "16 mars", "17 mars"),), invitees=(ev.invitee(1), ev.invitee(2))),
        ev.cancelled(ev.meeting(sequence=2), invitees=(ev.invitee(1), ev.invitee(2))),
    )

    kinds = sent_kinds(client, 7)
    assert sorted(kinds[3:5]) == [
        ("meeting_updated", "kontakt1@kommun.example"),
        ("meeting_updated", "kontakt2@kommun.example"),
    ]
    assert sorted(kinds[5:]) == [
        ("meeting_cancelled", "kontakt1@kommun.example"),
        ("meeting_cancelled", "kontakt2@kommun.example"),
    ]
    cancel = [m for m in smtp_server.to("kontakt1@kommun.example") if "Inställt" in str(m["Subject"])]
    assert str(calendar(cancel[0])["STATUS"]) == "CANCELLED" and calendar(cancel[0]).decoded("SEQUENCE") == 2


def test_the_services_scheduler_sends_a_reminder_when_the_clock_passes_its_time_and_shows_it_on_the_ledger(
    settings: NotificationsSettings, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text(ev.SCHEDULED_AT.isoformat())
    settings = settings.model_copy(update={"clock_file": clock_file, "reminder_poll_seconds": 0.1})
    info = ev.meeting()
    with TestClient(create_app(settings)) as client:
        publish(
            settings.redis_url, ev.scheduled(info, invitees=()), ev.registered(info, ev.participant(40, 1))
        )
        sent_kinds(client, 1)
        time.sleep(0.5)  # several ticks: no meeting reminder is due yet
        for rule in ("meeting_7d", "meeting_1d"):
            assert client.get("/api/v1/reminders", params={"rule": rule}, headers=AUTH).json()["rows"] == []

        clock_file.write_text((ev.STARTS - timedelta(hours=12)).isoformat())

        eventually_sent = sent_kinds(client, 2)  # the confirmation, the reminder (Monday's digest: nothing)
        assert ("meeting_reminder", "kontakt1@kommun.example") in eventually_sent
        [row] = client.get("/api/v1/reminders", params={"rule": "meeting_1d"}, headers=AUTH).json()["rows"]
        assert row["status"] == "queued" and row["email_id"]
        assert row["source_key"] == "meeting:12@20270316T0900Z"
        # Its week-before sibling was stale by then: one reminder, not two.
        assert (
            client.get("/api/v1/reminders", params={"rule": "meeting_7d"}, headers=AUTH).json()["rows"] == []
        )
    [reminder] = [m for m in smtp_server.messages if str(m["Subject"]).startswith("Påminnelse")]
    assert str(reminder["To"]).endswith("<kontakt1@kommun.example>")


def login(client: TestClient) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    answer = client.post(
        "/login",
        data={"username": "admin", "password": "secret-password", "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_the_ledger_and_template_pages_need_a_login_and_preview_every_template(client: TestClient) -> None:
    for path in ("/reminders", "/meetings", "/templates", "/templates/meeting_invitation.txt"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    login(client)

    ledger = client.get("/reminders")
    assert ledger.status_code == 200 and "Mötespåminnelse en vecka före" in ledger.text
    listing = client.get("/templates")
    assert listing.status_code == 200 and "/templates/staff_digest.txt" in listing.text
    preview = client.get("/templates/meeting_invitation.txt")
    assert preview.status_code == 200
    assert "Inbjudan: Vårträff: regional statistik" in preview.text and "/moten/anmalan/" in preview.text
    # A preview's sample link is never a working link for a real meeting and contact.
    token = re.search(r"/moten/anmalan/([A-Za-z0-9._-]+)", preview.text)
    assert token
    with pytest.raises(LinkInvalid):
        verify_link(ev.SECRET, "meeting-signup", token.group(1), ev.SCHEDULED_AT)
    assert client.get("/templates/nonexistent.txt").status_code == 404


def test_the_meetings_page_shows_each_meeting_its_people_and_where_its_reminders_stand(
    settings: NotificationsSettings, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text((ev.STARTS - timedelta(days=6)).isoformat())
    settings = settings.model_copy(update={"clock_file": clock_file, "reminder_poll_seconds": 0.1})
    info = ev.meeting()
    with TestClient(create_app(settings)) as client:
        publish(
            settings.redis_url,
            ev.scheduled(info, invitees=(ev.invitee(1), ev.invitee(2))),
            ev.registered(info, ev.participant(40, 1)),
            ev.registered(info, ev.participant(41, 2), "waiting"),
        )
        sent_kinds(client, 5)  # two invitations, a confirmation, a waiting notice, the reminder
        login(client)
        page = client.get("/meetings")
        ledger = client.get("/reminders", params={"source": "meeting:12", "status": "queued"})
        [entry] = client.get("/api/v1/reminders", params={"source": "meeting:12"}, headers=AUTH).json()[
            "rows"
        ]

    assert page.status_code == 200
    row = page.text[page.text.index("Vårträff: regional statistik") :]
    cells = re.findall(r'<td class="num">(\d+)</td>', row)[:3]
    assert cells == ["2", "1", "1"]  # invited, registered, waiting
    assert "/reminders?rule=meeting_7d&amp;status=queued&amp;source=meeting:12" in row
    assert ledger.status_code == 200
    assert f"#{entry['email_id']}" in ledger.text and "kontakt1@kommun.example" in ledger.text
