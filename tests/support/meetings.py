"""Helpers for the meetings tests: the registration app on a moved clock, staff login, members, links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from services.registration.meetings.rules import end_of_day
from shared.db import make_engine
from shared.links import sign_link
from tests.support.registration import registration_client, signup_body

API_TOKEN = "meetings-test-token-0123456789"
ADMIN_PASSWORD = "meetings-test-password-0123456789"
SECRET = "meetings-test-secret-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# The 2018 policy is the one that ships, so the tests live in January 2018.
NOW = datetime(2018, 1, 15, 9, 0, tzinfo=UTC)


def set_clock(path: Path, at: datetime) -> None:
    path.write_text(at.isoformat(), encoding="utf-8")


@contextmanager
def meetings_client(database_url: str, redis_url: str, clock_file: Path) -> Iterator[TestClient]:
    if not clock_file.exists():
        set_clock(clock_file, NOW)
    with registration_client(
        database_url,
        redis_url,
        api_token=API_TOKEN,
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET,
        clock_file=clock_file,
    ) as client:
        yield client


def login(client: TestClient) -> None:
    form = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match
    answer = client.post(
        "/login",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "csrf_token": match.group(1),
            "next": "/staff",
        },
    )
    assert answer.status_code == 303, answer.text


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def sign_up_member(
    client: TestClient,
    org_number: str,
    networks: list[str],
    *,
    name: str = "Region Exempel",
    contact: str = "anna@region.example",
) -> int:
    """An organisation signs up (2018); returns its id."""
    body = signup_body(org_number, networks, name=name)
    body["contact"] = {"name": contact.split("@")[0].capitalize(), "email": contact}
    answer = client.post("/api/v1/signups", json=body)
    assert answer.status_code == 201, answer.text
    organisation_id: int = answer.json()["organisation_id"]
    return organisation_id


def meeting_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "network": "rus",
        "title": "RUS-träff i Örebro",
        "starts_at": "2018-02-07T10:00:00",
        "ends_at": "2018-02-07T16:00:00",
        "venue": "Conventum",
        "address": "Fabriksgatan 5, Örebro",
        "agenda": "Regionala utvecklingsstrategier",
        "capacity": 2,
        "registration_deadline": "2018-01-31",
        "costs": {"venue": "12500.00", "food": "4800,50", "speakers": "0"},
    }
    body.update(changes)
    return body


def schedule(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/meetings", json=meeting_body(**changes), headers=AUTH)
    assert answer.status_code == 201, answer.text
    meeting: dict[str, Any] = answer.json()
    return meeting


def set_weeks(database_url: str, year: int, weeks: list[int]) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for week in weeks:
                connection.execute(
                    text("INSERT INTO reg_network_week (year, week) VALUES (:y, :w)"), {"y": year, "w": week}
                )
    finally:
        engine.dispose()


def contact_ids(database_url: str, email: str) -> list[int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [
                int(r[0])
                for r in connection.execute(
                    text("SELECT id FROM reg_contact WHERE email = :e ORDER BY id"), {"e": email}
                )
            ]
    finally:
        engine.dispose()


def signup_link(meeting_id: int, contact_id: int, deadline: str = "2018-01-31") -> str:
    token = sign_link(
        SECRET,
        "meeting-signup",
        {"m": meeting_id, "c": contact_id},
        end_of_day(datetime.fromisoformat(deadline).date()),
    )
    return f"/moten/anmalan/{token}"


def cancel_link(participant_id: int, starts_at: datetime = datetime(2018, 2, 7, 9, tzinfo=UTC)) -> str:
    token = sign_link(SECRET, "meeting-cancel", {"p": participant_id}, starts_at)
    return f"/moten/avboka/{token}"


def unsubscribe_link(contact_id: int, sent_at: datetime = NOW) -> str:
    token = sign_link(SECRET, "unsubscribe", {"c": contact_id}, sent_at + timedelta(days=365))
    return f"/avregistrera/{token}"


def wait_for_types(redis_url: str, type_: str, count: int, timeout: float = 10.0) -> list[Any]:
    """The events of one type on the registration stream, once ``count`` of them have been relayed."""
    import time

    from tests.support.streams import read_events

    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        found = [e for e in read_events(redis_url, "reglab.registration") if e.type == type_]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"expected {count} {type_} events, got {len(found)}")


def outbox_types(database_url: str) -> list[tuple[str, str]]:
    """(type, correlation id) of every outbox row, in commit order."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return [
                (r[0], r[1])
                for r in connection.execute(text("SELECT type, correlation_id FROM outbox ORDER BY id"))
            ]
    finally:
        engine.dispose()


def meeting_form(html: str) -> dict[str, str]:
    """The meeting form's current values, as a browser would send them."""
    values = dict(re.findall(r'<input id="([a-z_]+)" name="\1" type="[a-z]+" value="([^"]*)"', html))
    selected = re.search(r'<option value="([^"]+)" selected>', html)
    values["network"] = selected.group(1) if selected else ""
    agenda = re.search(r'<textarea id="agenda" name="agenda" rows="4">([^<]*)</textarea>', html)
    values["agenda"] = agenda.group(1) if agenda else ""
    return values
