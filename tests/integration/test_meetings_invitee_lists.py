"""Registration and notifications together: who is invited follows contacts and memberships.

Registration runs as its app (real Redis, its own database); the events it relays
are fed, in stream order, to notifications' handlers through the consumer's
``handle_once`` on notifications' own database (the same kind: SQLite or
PostgreSQL). The reminder scheduler runs at moved times with a FrozenClock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from services.notifications import digest
from services.notifications.handlers import make_handlers
from services.notifications.models import Email
from services.notifications.readmodels import InviteeView
from services.notifications.reminders.models import ReminderEntry
from services.notifications.reminders.rules import RULES_BY_NAME
from services.notifications.reminders.scheduler import ReminderScheduler, load_digest
from services.notifications.settings import NotificationsSettings
from services.registration.cancellations import cancel_membership
from services.registration.handlers import submit_signup
from services.registration.privacy import erase_person, registration_privacy
from services.registration.validation import flatten_json
from shared.clock import FrozenClock
from shared.consumer import handle_once
from shared.db import make_engine, transaction
from tests.support.meetings import (
    NOW,
    SECRET,
    contact_ids,
    csrf_of,
    login,
    meetings_client,
    schedule,
    sign_up_member,
    wait_for_types,
)
from tests.support.notifications import migrated_engine
from tests.support.registration import signup_body
from tests.support.servers import RedisServer, postgres_database
from tests.support.streams import read_events

STAFF = "kansliet@reglab.example"
# The meeting of tests.support.meetings: 7 February 2018, deadline 31 January; the invitation
# reminder is due 7 days before the deadline at 09:00 Stockholm.
INVITATION_REMINDER_AT = datetime(2018, 1, 24, 8, 0, tzinfo=UTC)


@pytest.fixture
def client(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as test_client:
        yield test_client


@pytest.fixture
def notifications_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/notifications.db"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def settings(notifications_url: str, tmp_path: Path) -> NotificationsSettings:
    return NotificationsSettings(
        environment="development",
        database_url=notifications_url,
        staff_email=STAFF,
        secret_key=SECRET,
        registration_public_url="http://testserver",
        reminders_effective_from=datetime(2018, 1, 1, tzinfo=UTC),
        var_dir=tmp_path,
    )


@pytest.fixture
def engine(settings: NotificationsSettings) -> Iterator[Engine]:
    with migrated_engine(settings.database_url) as engine:
        yield engine


def deliver(redis_url: str, engine: Engine, settings: NotificationsSettings, at: datetime = NOW) -> None:
    """Every registration event relayed so far, in stream order, to notifications (once each)."""
    handlers = make_handlers(settings, clock=lambda: at)
    for event in read_events(redis_url, "reglab.registration"):
        if event.type in handlers:
            handle_once(engine, event, handlers[event.type])


def emails_to(engine: Engine, kind: str) -> list[str]:
    table = Email.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.recipient).where(table.c.kind == kind).order_by(table.c.id))
        return [r[0] for r in rows]


def invitees_held(engine: Engine, meeting_id: int) -> list[str]:
    table = InviteeView.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.email).where(table.c.meeting_id == meeting_id))
        return sorted(r[0] for r in rows)


def invitation_reminders(engine: Engine, settings: NotificationsSettings, at: datetime) -> list[Any]:
    """Tick the invitation rule at ``at``; the ledger's rows of it."""
    rule = RULES_BY_NAME["invitation_7d"]
    ReminderScheduler(engine, settings, clock=FrozenClock(at), rules=(rule,)).tick()
    table = ReminderEntry.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(select(table).where(table.c.rule == rule.name)).all())


def remove_contact(client: TestClient, organisation: int, contact_id: int) -> None:
    login(client)
    page = client.get(f"/staff/organisationer/{organisation}")
    answer = client.post(f"/staff/kontakter/{contact_id}/ta-bort", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303


def add_contact(client: TestClient, organisation: int, email: str) -> None:
    login(client)
    page = client.get(f"/staff/organisationer/{organisation}")
    answer = client.post(
        f"/staff/organisationer/{organisation}/kontakter",
        data={"csrf_token": csrf_of(page.text), "network": "rus", "name": "Cy Svensson", "email": email},
    )
    assert answer.status_code == 303, answer.text


def membership_id(database_url: str, organisation: int) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT id FROM reg_membership WHERE organisation_id = :o"), {"o": organisation}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def sign_up_at_test_time(
    client: TestClient, database_url: str, org_number: str, network: str, contact: str
) -> None:
    """A sign-up at the test's clock (the sign-up API reads the real clock, past 2018's deadlines)."""
    body = signup_body(org_number, [network], name=f"Organisation {org_number}")
    body["contact"] = {"name": contact.split("@")[0].capitalize(), "email": contact}
    registration = make_engine(database_url)
    try:
        submit_signup(
            registration,
            flatten_json(body),
            policies=client.app.state.policies,  # type: ignore[attr-defined]
            now=NOW,
            correlation_id=f"test-{org_number}",
        )
    finally:
        registration.dispose()


def test_a_meeting_scheduled_without_a_venue_is_in_the_staff_digest(
    client: TestClient, redis_server: RedisServer, engine: Engine, settings: NotificationsSettings
) -> None:
    meeting = schedule(client, venue="", address="", outside_weeks_reason="inga veckor satta")
    assert (meeting["venue"], meeting["address"]) == ("", "")
    login(client)
    assert "Lokal ej bestämd" in client.get(f"/staff/moten/{meeting['id']}").text
    wait_for_types(redis_server.url, "meeting.scheduled", 1)
    deliver(redis_server.url, engine, settings)

    with Session(engine) as session:
        found = load_digest(session, NOW, few_share=settings.digest_few_signups_share)
    assert [m.title for m in found.without_venue] == ["RUS-träff i Örebro"]
    text_ = digest.digest_email(found, staff_email=STAFF).text
    assert "Kommande möten utan lokal:\n  - RUS-träff i Örebro (RUS-nätverket)" in text_


def two_members_and_a_meeting(client: TestClient) -> tuple[int, dict[str, Any]]:
    """Region (Anna) and Kommun Norr (Bo) in RUS, and a RUS meeting: the region's id and the meeting."""
    region = sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    sign_up_member(client, "212000-0142", ["rus"], name="Kommun Norr", contact="bo@norr.example")
    return region, schedule(client, outside_weeks_reason="inga veckor satta")


def test_a_contact_removed_after_scheduling_gets_no_invitation_reminder(
    client: TestClient, redis_server: RedisServer, database_url: str, engine: Engine,
    settings: NotificationsSettings,
) -> None:
    region, meeting = two_members_and_a_meeting(client)
    [anna] = contact_ids(database_url, "anna@region.example")
    remove_contact(client, region, anna)
    [changed] = wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    assert [i.email for i in changed.invitees] == ["bo@norr.example"]
    deliver(redis_server.url, engine, settings)

    assert sorted(emails_to(engine, "meeting_invitation")) == ["anna@region.example", "bo@norr.example"]
    assert invitees_held(engine, meeting["id"]) == ["bo@norr.example"]
    rows = invitation_reminders(engine, settings, INVITATION_REMINDER_AT)
    assert [(r.recipient, r.status) for r in rows] == [("bo@norr.example", "queued")]
    assert emails_to(engine, "invitation_reminder") == ["bo@norr.example"]


def test_a_contact_added_after_scheduling_is_invited_once(
    client: TestClient, redis_server: RedisServer, engine: Engine, settings: NotificationsSettings
) -> None:
    region = sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    schedule(client, outside_weeks_reason="inga veckor satta")
    add_contact(client, region, "cy@region.example")
    wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    deliver(redis_server.url, engine, settings)
    assert sorted(emails_to(engine, "meeting_invitation")) == ["anna@region.example", "cy@region.example"]

    # Another change of the list (a second new contact) invites only the new one.
    add_contact(client, region, "dag@region.example")
    wait_for_types(redis_server.url, "meeting.invitees_changed", 2)
    deliver(redis_server.url, engine, settings)
    assert sorted(emails_to(engine, "meeting_invitation")) == [
        "anna@region.example",
        "cy@region.example",
        "dag@region.example",
    ]
    rows = invitation_reminders(engine, settings, INVITATION_REMINDER_AT)
    assert sorted(r.recipient for r in rows) == [
        "anna@region.example",
        "cy@region.example",
        "dag@region.example",
    ]


def test_a_cancelled_membership_drops_its_contacts_from_the_invitees(
    client: TestClient, redis_server: RedisServer, database_url: str, engine: Engine,
    settings: NotificationsSettings,
) -> None:
    region, meeting = two_members_and_a_meeting(client)
    # Directly, at the test's clock: the membership routes read the real clock, not the clock file.
    registration = make_engine(database_url)
    try:
        with transaction(registration) as session:
            cancel_membership(
                session, membership_id(database_url, region), actor="admin", reason="Lämnar", now=NOW
            )
    finally:
        registration.dispose()
    wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    deliver(redis_server.url, engine, settings)

    assert invitees_held(engine, meeting["id"]) == ["bo@norr.example"]
    rows = invitation_reminders(engine, settings, INVITATION_REMINDER_AT)
    assert [r.recipient for r in rows] == ["bo@norr.example"]


def test_an_organisation_signing_up_after_scheduling_is_invited(
    client: TestClient, redis_server: RedisServer, database_url: str, engine: Engine,
    settings: NotificationsSettings,
) -> None:
    sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    meeting = schedule(client, outside_weeks_reason="inga veckor satta")
    sign_up_at_test_time(client, database_url, "202100-6255", "analytiker", "cy@myndighet.example")
    sign_up_at_test_time(client, database_url, "212000-0142", "rus", "bo@norr.example")
    [changed] = wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    assert changed.meeting.meeting_id == meeting["id"]
    deliver(redis_server.url, engine, settings)

    assert sorted(emails_to(engine, "meeting_invitation")) == ["anna@region.example", "bo@norr.example"]
    assert invitees_held(engine, meeting["id"]) == ["anna@region.example", "bo@norr.example"]


def test_an_erased_contact_leaves_the_invitee_lists(
    client: TestClient, redis_server: RedisServer, database_url: str, engine: Engine,
    settings: NotificationsSettings,
) -> None:
    _, meeting = two_members_and_a_meeting(client)
    registration = make_engine(database_url)
    try:
        erase_person(registration, registration_privacy(), "anna@region.example", requested_by="admin",
                     remote_addr="127.0.0.1", now=NOW)
    finally:
        registration.dispose()
    [changed] = wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    assert [i.email for i in changed.invitees] == ["bo@norr.example"]
    wait_for_types(redis_server.url, "person.erased", 1)
    deliver(redis_server.url, engine, settings)

    assert invitees_held(engine, meeting["id"]) == ["bo@norr.example"]


def test_no_invitation_once_the_registration_deadline_has_passed(
    client: TestClient, redis_server: RedisServer, database_url: str, engine: Engine,
    settings: NotificationsSettings,
) -> None:
    """A list that arrives after the deadline day (a slow consumer) is held, but invites nobody."""
    sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    schedule(client, outside_weeks_reason="inga veckor satta")
    wait_for_types(redis_server.url, "meeting.scheduled", 1)
    deliver(redis_server.url, engine, settings)
    sign_up_at_test_time(client, database_url, "212000-0142", "rus", "bo@norr.example")
    wait_for_types(redis_server.url, "meeting.invitees_changed", 1)
    deliver(redis_server.url, engine, settings, at=datetime(2018, 2, 1, 9, 0, tzinfo=UTC))

    assert emails_to(engine, "meeting_invitation") == ["anna@region.example"]
