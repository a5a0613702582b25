"""The reminder ledger on SQLite and PostgreSQL: events → read models → ledger rows → emails in ntf_email.

The events go through the consumer's own ``handle_once`` (its transaction and
idempotence); time is a FrozenClock that the tests move.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from services.notifications.handlers import make_handlers
from services.notifications.models import Email
from services.notifications.readmodels import InviteeView
from services.notifications.reminders.models import ReminderEntry
from services.notifications.reminders.rules import RULES, RULES_BY_NAME, Rule
from services.notifications.reminders.scheduler import ReminderScheduler
from services.notifications.settings import NotificationsSettings
from shared.clock import FrozenClock
from shared.consumer import handle_once
from shared.db import make_engine
from shared.events import EventBase, MeetingInfo
from tests.support import meeting_events as ev
from tests.support.notifications import invoice_event, migrated_engine

STAFF = "kansliet@reglab.example"
PAYMENT_RULES = (RULES_BY_NAME["payment_7d"], RULES_BY_NAME["payment_21d"])


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> NotificationsSettings:
    return NotificationsSettings(
        environment="development",
        reminder_batch=7,  # smaller than the tests' rows: a tick works through several batches
        database_url=database_url,
        staff_email=STAFF,
        secret_key=ev.SECRET,
        registration_public_url=ev.PUBLIC_URL,
        var_dir=tmp_path,
    )


@pytest.fixture
def engine(settings: NotificationsSettings) -> Iterator[Engine]:
    with migrated_engine(settings.database_url) as engine:
        yield engine


def feed(engine: Engine, settings: NotificationsSettings, *events: EventBase) -> None:
    handlers = make_handlers(settings, clock=lambda: ev.SCHEDULED_AT)
    for event in events:
        handle_once(engine, event, handlers[event.type])  # type: ignore[attr-defined]


def ledger(engine: Engine) -> list[Any]:
    table = ReminderEntry.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)).all())


def emails(engine: Engine, kind: str) -> list[Any]:
    table = Email.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(select(table).where(table.c.kind == kind).order_by(table.c.id)).all())


MEETING_RULES = (RULES_BY_NAME["meeting_7d"], RULES_BY_NAME["meeting_1d"])


def scheduler(
    engine: Engine, settings: NotificationsSettings, at: datetime, rules: tuple[Rule, ...] = MEETING_RULES
) -> ReminderScheduler:
    """A scheduler at a fixed time, by default with only the meeting rules (a test sees its own rule)."""
    return ReminderScheduler(engine, settings, clock=FrozenClock(at), rules=rules)


def test_a_meeting_reminder_is_recorded_in_the_ledger_and_queued_as_one_traceable_email(
    engine: Engine, settings: NotificationsSettings
) -> None:
    info = ev.meeting()
    feed(
        engine,
        settings,
        ev.scheduled(info),
        ev.registered(info, ev.participant(40, 1)),
        ev.registered(info, ev.participant(41, 2), status="waiting"),
    )

    assert scheduler(engine, settings, ev.STARTS - timedelta(days=8)).tick().recorded == 0
    result = scheduler(engine, settings, ev.STARTS - timedelta(days=7)).tick()

    assert (result.recorded, result.queued, result.skipped) == (1, 1, 0)
    [row] = ledger(engine)
    [email] = emails(engine, "meeting_reminder")
    assert (row.rule, row.source_key, row.recipient, row.status) == (
        "meeting_7d",
        "meeting:12@20270316T0900Z",
        "kontakt1@kommun.example",
        "queued",
    )
    assert row.email_id == email.id and email.status == "queued"
    assert email.source_event_type == "reminder.meeting_7d" and email.correlation_id == f"reminder-{row.id}"
    assert b"/moten/avboka/" in email.raw


def test_running_the_scheduler_again_and_in_two_instances_at_once_sends_nothing_twice(
    engine: Engine, settings: NotificationsSettings
) -> None:
    info = ev.meeting()
    feed(
        engine,
        settings,
        ev.scheduled(info),
        *(ev.registered(info, ev.participant(40 + n, n)) for n in range(1, 21)),
    )
    now = ev.STARTS - timedelta(hours=20)
    second_engine = make_engine(settings.database_url)
    instances = [scheduler(engine, settings, now), scheduler(second_engine, settings, now)]
    start = threading.Barrier(len(instances))
    errors: list[BaseException] = []

    def run(instance: ReminderScheduler) -> None:
        try:
            start.wait()
            for _ in range(3):
                instance.tick()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    second_engine.dispose()

    assert errors == []
    rows = ledger(engine)
    sent = emails(engine, "meeting_reminder")
    assert len(rows) == 20 and {row.status for row in rows} == {"queued"}
    assert len(sent) == 20 and len({email.recipient for email in sent}) == 20
    assert sorted(row.email_id for row in rows) == sorted(email.id for email in sent)
    # A restart later that day: a fresh scheduler finds nothing new to record or send.
    assert scheduler(engine, settings, now + timedelta(hours=1)).tick().recorded == 0
    assert len(emails(engine, "meeting_reminder")) == 20


def test_a_new_rule_never_mails_the_past(engine: Engine, settings: NotificationsSettings) -> None:
    info = ev.meeting()
    feed(engine, settings, ev.scheduled(info), ev.registered(info, ev.participant(40, 1)))
    now = ev.STARTS - timedelta(days=3)
    # Introduced today: the week-before reminder fell due four days ago, before the rule existed.
    new_rule = dataclasses.replace(RULES_BY_NAME["meeting_7d"], name="meeting_7d_new", effective_from=now)

    assert scheduler(engine, settings, now, rules=(new_rule,)).tick().recorded == 0
    assert ledger(engine) == []
    # The same rule in force since before: the same data gives a row (so the test can fail).
    older = dataclasses.replace(new_rule, effective_from=now - timedelta(days=30))
    assert scheduler(engine, settings, now, rules=(older,)).tick().recorded == 1


def test_an_invitation_reminder_skips_those_who_signed_up_or_unsubscribed_and_carries_the_links(
    engine: Engine, settings: NotificationsSettings
) -> None:
    info = ev.meeting()
    feed(engine, settings, ev.scheduled(info), ev.registered(info, ev.participant(40, 1)), ev.unsubscribed(2))

    scheduler(
        engine, settings, datetime(2027, 3, 2, 8, 0, tzinfo=UTC), rules=(RULES_BY_NAME["invitation_7d"],)
    ).tick()

    [row] = ledger(engine)
    [email] = emails(engine, "invitation_reminder")
    assert row.recipient == email.recipient == "kontakt3@kommun.example"
    assert b"/moten/anmalan/" in email.raw and b"/avregistrera/" in email.raw


def test_a_row_no_longer_wanted_when_its_time_comes_is_skipped_with_the_reason(
    engine: Engine, settings: NotificationsSettings
) -> None:
    info = ev.meeting()
    who = ev.participant(40, 1)
    feed(engine, settings, ev.scheduled(info), ev.registered(info, who))
    instance = scheduler(engine, settings, ev.STARTS - timedelta(days=7))
    assert instance.plan(ev.STARTS - timedelta(days=7)) == 1
    feed(engine, settings, ev.participant_cancelled(info, who))

    assert instance.send(ev.STARTS - timedelta(days=7)) == (0, 1)
    [row] = ledger(engine)
    assert (
        row.status == "skipped"
        and row.email_id is None
        and row.note.startswith("deltagaren är inte längre anmäld")
    )
    assert emails(engine, "meeting_reminder") == []


def test_an_older_invitee_list_arriving_late_changes_nothing_and_nobody_is_invited_twice(
    engine: Engine, settings: NotificationsSettings
) -> None:
    info = ev.meeting()
    feed(
        engine,
        settings,
        ev.scheduled(info, invitees=(ev.invitee(1), ev.invitee(2))),
        ev.invitees_changed(info, (ev.invitee(1), ev.invitee(3)), at=ev.SCHEDULED_AT + timedelta(hours=2)),
        # Published in between, handled last (another instance was slower): not applied.
        ev.invitees_changed(info, (ev.invitee(1), ev.invitee(4)), at=ev.SCHEDULED_AT + timedelta(hours=1)),
    )

    table = InviteeView.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        held = sorted(r.contact_id for r in connection.execute(select(table)).all())
    assert held == [1, 3]
    invited = sorted(e.recipient for e in emails(engine, "meeting_invitation"))
    assert invited == ["kontakt1@kommun.example", "kontakt2@kommun.example", "kontakt3@kommun.example"]


def moved_by(info: MeetingInfo, days: int, sequence: int) -> MeetingInfo:
    return info.model_copy(
        update={
            "starts_at": info.starts_at + timedelta(days=days),
            "ends_at": info.ends_at + timedelta(days=days),
            "sequence": sequence,
        }
    )


def reminders_to_participant(engine: Engine) -> list[tuple[str, str, str]]:
    return [(r.source_key, r.status, r.note) for r in ledger(engine) if r.rule == "meeting_7d"]


def move_after_the_week_reminder(
    engine: Engine, settings: NotificationsSettings, *, days: int, sent: bool
) -> MeetingInfo:
    """A participant's meeting, its week-before reminder recorded (and ``sent``), then moved by ``days``."""
    info = ev.meeting()
    feed(engine, settings, ev.scheduled(info), ev.registered(info, ev.participant(40, 1)))
    week_before = ev.STARTS - timedelta(days=7)
    if sent:
        scheduler(engine, settings, week_before).tick()
    else:
        scheduler(engine, settings, week_before).plan(week_before)  # recorded; the send step has not run
    moved = moved_by(info, days, sequence=1)
    change = ("Tid", f"{info.starts_at:%d %b}", f"{moved.starts_at:%d %b}")
    feed(engine, settings, ev.updated(moved, (change,)))
    return moved


def test_a_meeting_moved_later_after_its_reminder_was_sent_gets_one_for_the_new_time(
    engine: Engine, settings: NotificationsSettings
) -> None:
    later = move_after_the_week_reminder(engine, settings, days=3, sent=True)

    scheduler(engine, settings, ev.STARTS - timedelta(days=6)).tick()
    assert len(emails(engine, "meeting_reminder")) == 1  # the new time's reminder is not due yet
    scheduler(engine, settings, later.starts_at - timedelta(days=7)).tick()
    assert reminders_to_participant(engine) == [
        ("meeting:12@20270316T0900Z", "queued", ""),
        ("meeting:12@20270319T0900Z", "queued", ""),
    ]
    assert len(emails(engine, "meeting_reminder")) == 2


def test_a_meeting_moved_earlier_after_its_reminder_was_sent_is_not_reminded_again(
    engine: Engine, settings: NotificationsSettings
) -> None:
    move_after_the_week_reminder(engine, settings, days=-2, sent=True)

    scheduler(engine, settings, ev.STARTS - timedelta(days=6)).tick()
    assert reminders_to_participant(engine) == [
        ("meeting:12@20270316T0900Z", "queued", ""),
        ("meeting:12@20270314T0900Z", "skipped", "redan skickad för mötets tidigare tid"),
    ]
    assert len(emails(engine, "meeting_reminder")) == 1


def test_an_unsent_reminder_of_a_meetings_old_time_is_skipped_as_changed(
    engine: Engine, settings: NotificationsSettings
) -> None:
    move_after_the_week_reminder(engine, settings, days=14, sent=False)
    week_before = ev.STARTS - timedelta(days=7)

    scheduler(engine, settings, week_before).tick()
    assert reminders_to_participant(engine) == [("meeting:12@20270316T0900Z", "skipped", "mötet ändrat")]
    assert emails(engine, "meeting_reminder") == []


def test_payment_reminders_go_at_due_plus_7_and_21_days_until_the_invoice_is_paid(
    engine: Engine, settings: NotificationsSettings
) -> None:
    feed(engine, settings, ev.overdue("2027-00042"), ev.overdue("2027-00043"))
    scheduler(engine, settings, datetime(2027, 2, 8, 9, 0, tzinfo=UTC), rules=PAYMENT_RULES).tick()
    assert len(emails(engine, "payment_reminder")) == 2

    feed(engine, settings, ev.paid("2027-00042"))
    scheduler(engine, settings, datetime(2027, 2, 22, 9, 0, tzinfo=UTC), rules=PAYMENT_RULES).tick()

    second = [row for row in ledger(engine) if row.rule == "payment_21d"]
    assert [row.source_key for row in second] == ["invoice:2027-00043"]
    assert len(emails(engine, "payment_reminder")) == 3


def test_a_credit_note_for_the_invoice_stops_its_payment_reminders(
    engine: Engine, settings: NotificationsSettings
) -> None:
    credit = invoice_event(number="2027-90001")
    credit = credit.model_copy(update={"kind": "credit_note", "credited_number": "2027-00042"})
    feed(engine, settings, ev.overdue("2027-00042"), credit)

    scheduler(engine, settings, datetime(2027, 2, 8, 9, 0, tzinfo=UTC), rules=PAYMENT_RULES).tick()

    assert ledger(engine) == []


def test_the_weekly_digest_goes_to_staff_once_with_the_coming_network_weeks(
    engine: Engine, settings: NotificationsSettings
) -> None:
    feed(engine, settings, ev.network_weeks(2027, 11, 40), ev.scheduled(ev.meeting(venue="")))
    monday = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)

    for minutes in (0, 5, 60):
        scheduler(engine, settings, monday + timedelta(minutes=minutes), rules=RULES).tick()

    [digest] = emails(engine, "staff_digest")
    assert digest.recipient == STAFF
    text = digest.raw.decode()
    assert "vecka 11" in text and "vecka 40" not in text


def test_a_week_with_nothing_to_report_sends_no_digest_and_the_ledger_says_why(
    engine: Engine, settings: NotificationsSettings
) -> None:
    monday = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)

    scheduler(engine, settings, monday, rules=(RULES_BY_NAME["staff_digest"],)).tick()
    scheduler(engine, settings, monday + timedelta(hours=1), rules=(RULES_BY_NAME["staff_digest"],)).tick()

    [row] = ledger(engine)
    assert (row.rule, row.status, row.note) == ("staff_digest", "skipped", "inget att rapportera")
    assert emails(engine, "staff_digest") == []
