"""Staff schedule, change and cancel meetings and set network weeks: events with invitees, reasons, audit.

On SQLite and PostgreSQL with a real Redis; the clock is moved to January 2018 (the shipped policy's year).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.registration.meetings.forms import FormInvalid, meeting_form_values, validate_meeting
from services.registration.meetings.schedule import schedule_meeting
from shared.db import make_engine, transaction
from shared.events import MeetingCancelled, MeetingScheduled, MeetingUpdated, NetworkWeeksSet
from tests.support.meetings import (
    AUTH,
    NOW,
    csrf_of,
    login,
    meeting_body,
    meeting_form,
    meetings_client,
    outbox_types,
    schedule,
    set_weeks,
    sign_up_member,
    wait_for_types,
)
from tests.support.registration import text_of
from tests.support.servers import RedisServer


@pytest.fixture
def client(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as test_client:
        yield test_client


def test_a_scheduled_meeting_publishes_its_invitees_the_members_contacts_of_that_network(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    sign_up_member(
        client, "556677-8899", ["rus", "analytiker"], name="Region Exempel", contact="anna@region.example"
    )
    sign_up_member(client, "212000-0142", ["rus"], name="Kommun Norr", contact="bo@norr.example")
    sign_up_member(client, "202100-6255", ["analytiker"], name="Myndigheten", contact="cy@myndighet.example")
    set_weeks(database_url, 2018, [6])

    meeting = schedule(client)

    assert meeting["year"] == 2018 and meeting["starts_at"] == "2018-02-07T10:00:00+01:00"
    assert meeting["costs"] == {
        "venue": "12500.00",
        "food": "4800.50",
        "speakers": "0.00",
        "total": "17300.50",
    }
    [event] = wait_for_types(redis_server.url, "meeting.scheduled", 1)
    assert isinstance(event, MeetingScheduled)
    assert event.meeting.meeting_id == meeting["id"] and event.meeting.network_name == "RUS-nätverket"
    assert event.meeting.sequence == 0 and str(event.meeting.registration_deadline) == "2018-01-31"
    assert sorted((i.email, i.organisation_name) for i in event.invitees) == [
        ("anna@region.example", "Region Exempel"),
        ("bo@norr.example", "Kommun Norr"),
    ]
    listed = client.get("/api/v1/meetings", headers=AUTH).json()
    assert [m["id"] for m in listed] == [meeting["id"]]


def test_the_meetings_api_needs_the_staff_token(client: TestClient) -> None:
    assert client.get("/api/v1/meetings").status_code == 401
    assert client.post("/api/v1/meetings", json=meeting_body()).status_code == 401
    assert client.get("/api/v1/meetings/1/participants").status_code == 401


def test_a_meeting_outside_the_network_weeks_is_refused_without_a_reason_and_nothing_is_stored(
    client: TestClient, database_url: str
) -> None:
    set_weeks(database_url, 2018, [11])
    answer = client.post("/api/v1/meetings", json=meeting_body(), headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["errors"] == {
        "outside_weeks_reason": "Mötet ligger utanför årets nätverksveckor: ange ett skäl."
    }
    assert client.get("/api/v1/meetings", headers=AUTH).json() == []
    assert not [t for t, _c in outbox_types(database_url) if t.startswith("meeting.")]

    meeting = schedule(client, outside_weeks_reason="Konferensen i Örebro är vecka 6")
    assert meeting["outside_weeks_reason"] == "Konferensen i Örebro är vecka 6"

    login(client)
    page = client.get("/staff", params={"year": "2018"}).text
    assert "Konferensen i Örebro är vecka 6" in text_of(page, "flagged")
    assert "RUS-nätverket: RUS-träff i Örebro" in text_of(page, "outside-weeks")


def test_a_third_meeting_for_a_network_and_year_needs_a_reason_but_another_network_does_not(
    client: TestClient, database_url: str
) -> None:
    set_weeks(database_url, 2018, [6, 11, 38])
    schedule(client)
    schedule(
        client, starts_at="2018-03-14T10:00", ends_at="2018-03-14T15:00", registration_deadline="2018-03-01"
    )
    third = meeting_body(
        starts_at="2018-09-19T10:00", ends_at="2018-09-19T15:00", registration_deadline="2018-09-01"
    )
    answer = client.post("/api/v1/meetings", json=third, headers=AUTH)
    assert answer.status_code == 422
    assert list(answer.json()["errors"]) == ["extra_meeting_reason"]
    schedule(client, **{**third, "network": "integration"})
    kept = schedule(client, **third, extra_meeting_reason="Extra träff om nya strategin")
    assert kept["extra_meeting_reason"] == "Extra träff om nya strategin"

    login(client)
    page = client.get("/staff", params={"year": "2018"}).text
    assert "3 / 2" in text_of(page, "network-rus") and "över policyn" in text_of(page, "network-rus")
    assert "Extra träff om nya strategin" in text_of(page, "flagged")
    assert "<svg" in page and 'id="chart-meetings"' in page


def test_a_change_publishes_the_changed_fields_in_swedish_with_a_bumped_sequence_and_is_audited(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    set_weeks(database_url, 2018, [6])
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client)
    login(client)
    page = client.get(f"/staff/moten/{meeting['id']}")
    form = meeting_form(page.text)
    form.update({"csrf_token": csrf_of(page.text), "start_time": "09:30", "capacity": "50"})

    answer = client.post(f"/staff/moten/{meeting['id']}", data=form)
    assert answer.status_code == 303

    [event] = wait_for_types(redis_server.url, "meeting.updated", 1)
    assert isinstance(event, MeetingUpdated)
    assert event.changes == (
        ("Starttid", "2018-02-07 10:00", "2018-02-07 09:30"),
        ("Antal platser", "2", "50"),
    )
    assert event.meeting.sequence == 1 and [i.email for i in event.invitees] == ["anna@region.example"]
    audit = text_of(client.get(f"/staff/moten/{meeting['id']}").text, "audit")
    assert "meeting.update" in audit and "Starttid: 2018-02-07 10:00 → 2018-02-07 09:30" in audit
    assert "meeting.schedule" in audit

    # Moving it out of the network weeks needs the reason again.
    page = client.get(f"/staff/moten/{meeting['id']}")
    form.update({"csrf_token": csrf_of(page.text), "date": "2018-02-14"})
    refused = client.post(f"/staff/moten/{meeting['id']}", data=form)
    assert refused.status_code == 422
    assert "utanför årets nätverksveckor" in text_of(refused.text, "error-outside_weeks_reason")
    assert len([t for t, _c in outbox_types(database_url) if t == "meeting.updated"]) == 1


def test_a_cancelled_meeting_publishes_the_reason_and_can_no_longer_be_changed(
    client: TestClient, redis_server: RedisServer
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, outside_weeks_reason="Inga veckor satta ännu")
    login(client)
    page = client.get(f"/staff/moten/{meeting['id']}")
    no_reason = client.post(f"/staff/moten/{meeting['id']}/stall-in", data={"csrf_token": csrf_of(page.text)})
    assert no_reason.status_code == 422
    answer = client.post(
        f"/staff/moten/{meeting['id']}/stall-in",
        data={"csrf_token": csrf_of(page.text), "reason": "Talaren är sjuk"},
    )
    assert answer.status_code == 303
    [event] = wait_for_types(redis_server.url, "meeting.cancelled", 1)
    assert isinstance(event, MeetingCancelled)
    assert event.reason == "Talaren är sjuk" and event.meeting.sequence == 1 and len(event.invitees) == 1
    again = client.post(
        f"/staff/moten/{meeting['id']}/stall-in", data={"csrf_token": csrf_of(page.text), "reason": "igen"}
    )
    assert again.status_code == 409
    assert "meeting.cancel" in text_of(client.get(f"/staff/moten/{meeting['id']}").text, "audit")


def test_staff_set_the_network_weeks_which_publishes_them_and_a_week_that_does_not_exist_is_refused(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    login(client)
    page = client.get("/staff/natverksveckor", params={"year": "2018"})
    refused = client.post(
        "/staff/natverksveckor", data={"csrf_token": csrf_of(page.text), "year": "2018", "weeks": "6, 53"}
    )
    assert refused.status_code == 422
    assert text_of(refused.text, "form-alert") == "Vecka 53 finns inte år 2018, som har 52 veckor."
    assert not [t for t, _c in outbox_types(database_url) if t == "network_weeks.set"]

    saved = client.post(
        "/staff/natverksveckor", data={"csrf_token": csrf_of(page.text), "year": "2018", "weeks": "45, 6 11"}
    )
    assert saved.status_code == 303
    [event] = wait_for_types(redis_server.url, "network_weeks.set", 1)
    assert isinstance(event, NetworkWeeksSet) and (event.year, event.weeks) == (2018, (6, 11, 45))
    shown = client.get(saved.headers["location"]).text
    assert "2018-02-05" in text_of(shown, "weeks-table")  # Monday of week 6
    assert "network_weeks.set" in text_of(shown, "audit") and "6, 11, 45" in text_of(shown, "audit")
    no_csrf = client.post("/staff/natverksveckor", data={"csrf_token": "x", "year": "2018", "weeks": "7"})
    assert no_csrf.status_code == 400


def test_the_dashboard_shows_members_fees_meetings_and_sign_ups_per_network_with_a_calendar(
    client: TestClient, database_url: str
) -> None:
    set_weeks(database_url, 2018, [6, 11])
    sign_up_member(client, "556677-8899", ["rus", "analytiker"])
    sign_up_member(client, "212000-0142", ["rus"], contact="bo@norr.example")
    schedule(client)
    login(client)
    page = client.get("/staff", params={"year": "2018"})
    assert page.status_code == 200
    html = page.text
    rus = text_of(html, "network-rus")
    assert rus.startswith("RUS-nätverket 2 4 000 kr 1 / 2")
    assert "Avgiftsfri Samarrangemang med andra organisationer" in text_of(html, "network-analytiker")
    assert "RUS-träff i Örebro" in text_of(html, "week-6")
    assert "Inga möten" in text_of(html, "week-11")
    assert 'id="chart-members"' in html and "<script" not in html
    assert client.get("/staff", follow_redirects=False).status_code == 200
    client.cookies.clear()
    assert client.get("/staff").status_code == 303  # login first


def test_two_meetings_scheduled_at_once_are_counted_one_after_the_other_against_two_a_year(
    client: TestClient, database_url: str
) -> None:
    set_weeks(database_url, 2018, [6, 11, 38])
    schedule(client)
    engine = make_engine(database_url)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def one(day: str) -> None:
        body = meeting_body(
            starts_at=f"2018-{day}T10:00", ends_at=f"2018-{day}T15:00", registration_deadline="2018-03-01"
        )
        draft = validate_meeting(meeting_form_values(body), networks={"rus"}, now=NOW)
        start.wait()
        try:
            with transaction(engine) as session:
                schedule_meeting(session, draft, actor="t", remote_addr="", now=NOW, correlation_id=day)
            outcomes.append("scheduled")
        except FormInvalid as invalid:
            outcomes.append(",".join(invalid.errors))

    threads = [threading.Thread(target=one, args=(day,)) for day in ("03-14", "09-19")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert sorted(outcomes) == ["extra_meeting_reason", "scheduled"]
