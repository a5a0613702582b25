"""Notifications' part of an erasure (``person.erased``) on SQLite and PostgreSQL: the meeting read models
(invitees, participants, unsubscribed contacts) and the reminder ledger are anonymised, an email still
queued to the person is failed and never reaches the SMTP server, and no reminder is planned for them again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from services.notifications.handlers import make_handlers
from services.notifications.models import Email
from services.notifications.privacy import ERASED, notifications_privacy
from services.notifications.readmodels import InviteeView, ParticipantView, UnsubscribedContact
from services.notifications.reminders.models import ReminderEntry
from services.notifications.reminders.rules import RULES_BY_NAME
from services.notifications.reminders.scheduler import ReminderScheduler
from services.notifications.sender import MailSender
from services.notifications.settings import NotificationsSettings
from shared.clock import FrozenClock
from shared.consumer import handle_once
from shared.events import EventBase, PersonErased
from shared.privacy import ERASED_NAME
from tests.support import meeting_events as ev
from tests.support.notifications import migrated_engine
from tests.support.servers import SmtpServer

ERASED_PERSON = "kontakt1@kommun.example"
OTHER = "kontakt2@kommun.example"
MEETING_RULES = (RULES_BY_NAME["meeting_7d"], RULES_BY_NAME["meeting_1d"])


@pytest.fixture
def settings(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> NotificationsSettings:
    return NotificationsSettings(
        environment="development",
        database_url=database_url,
        secret_key=ev.SECRET,
        registration_public_url=ev.PUBLIC_URL,
        smtp_port=smtp_server.port,
        sender_poll_seconds=0.02,
        var_dir=tmp_path,
    )


@pytest.fixture
def engine(settings: NotificationsSettings) -> Iterator[Engine]:
    with migrated_engine(settings.database_url) as engine:
        yield engine


def feed(engine: Engine, settings: NotificationsSettings, *events: EventBase) -> None:
    handlers = {
        **make_handlers(settings, clock=lambda: ev.SCHEDULED_AT),
        "person.erased": notifications_privacy().event_handler(),
    }
    for event in events:
        handle_once(engine, event, handlers[event.type])  # type: ignore[attr-defined]


def table_rows(engine: Engine, model: Any) -> list[Any]:
    table = model.__table__
    with engine.connect() as connection:
        return list(connection.execute(select(table)).all())


def erased(email: str) -> PersonErased:
    return PersonErased(
        occurred_at=ev.SCHEDULED_AT + timedelta(days=1),
        correlation_id="erasure",
        erasure_id=uuid.uuid4(),
        email=email,
        requested_by="admin",
    )


def send_what_is_queued(engine: Engine, settings: NotificationsSettings, expected: int) -> None:
    # At the last reminder's time: everything queued is due.
    sender = MailSender(engine, settings, instance="test", clock=lambda: ev.STARTS)

    async def run() -> None:
        task = asyncio.create_task(sender.run())
        deadline = time.monotonic() + 20
        try:
            while sender.sent < expected:
                assert time.monotonic() < deadline, "the queued emails were not sent in time"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # room for an email it should not send
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())


def test_an_erased_person_is_anonymised_in_the_meeting_models_and_the_ledger_and_never_mailed(
    engine: Engine, settings: NotificationsSettings, smtp_server: SmtpServer
) -> None:
    info = ev.meeting()
    feed(
        engine,
        settings,
        ev.scheduled(info, invitees=(ev.invitee(1), ev.invitee(2))),
        ev.registered(info, ev.participant(40, 1)),
        ev.registered(info, ev.participant(41, 2)),
        ev.unsubscribed(1),
    )
    # The week-before reminders are recorded but not yet sent when the erasure arrives.
    week_before = ReminderScheduler(
        engine, settings, clock=FrozenClock(ev.STARTS - timedelta(days=7)), rules=MEETING_RULES
    )
    assert week_before.plan(ev.STARTS - timedelta(days=7)) == 2
    queued_before = {r.recipient for r in table_rows(engine, Email) if r.status == "queued"}
    assert {ERASED_PERSON, OTHER} <= queued_before

    feed(engine, settings, erased("Kontakt1@Kommun.EXAMPLE"))

    [invitee] = [r for r in table_rows(engine, InviteeView) if r.contact_id == 1]
    assert invitee.email.endswith("@raderad.invalid") and invitee.name == ERASED_NAME
    assert [r.email for r in table_rows(engine, InviteeView) if r.contact_id == 2] == [OTHER]
    [participant] = [r for r in table_rows(engine, ParticipantView) if r.participant_id == 40]
    assert participant.email.endswith("@raderad.invalid") and participant.name == ERASED_NAME
    [unsubscribed] = table_rows(engine, UnsubscribedContact)
    assert unsubscribed.email.endswith("@raderad.invalid")
    ledger = {r.ref: r for r in table_rows(engine, ReminderEntry)}
    assert ledger["participant:40"].recipient.endswith("@raderad.invalid")
    assert (ledger["participant:40"].status, ledger["participant:40"].note) == ("skipped", ERASED)
    assert ledger["participant:40"].recipient_name == ""
    assert (ledger["participant:41"].recipient, ledger["participant:41"].status) == (OTHER, "pending")
    emails = table_rows(engine, Email)
    assert not [e for e in emails if ERASED_PERSON in e.recipient.lower()]
    gone = [e for e in emails if e.recipient.endswith("@raderad.invalid")]
    assert gone and {(e.status, e.last_error, e.subject, e.raw) for e in gone} == {
        ("failed", ERASED, ERASED, b"")
    }

    # The rest goes out; nothing reaches the erased person, then or at later reminders.
    week_before.tick()
    ReminderScheduler(
        engine, settings, clock=FrozenClock(ev.STARTS - timedelta(days=1)), rules=MEETING_RULES
    ).tick()
    to_send = [e for e in table_rows(engine, Email) if e.status == "queued"]
    send_what_is_queued(engine, settings, expected=len(to_send))
    delivered = [str(m["To"]).lower() for m in smtp_server.messages]
    assert delivered and all(OTHER in to for to in delivered)
    sent_reminders = [r.ref for r in table_rows(engine, ReminderEntry) if r.status == "queued"]
    assert sorted(sent_reminders) == ["participant:41", "participant:41"]
