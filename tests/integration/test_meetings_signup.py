"""Participants sign up through their link, wait, get promoted and cancel; staff export the list.

On SQLite and PostgreSQL with a real Redis; the clock is moved to January 2018.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.registration.meetings.forms import PersonDraft
from services.registration.meetings.participants import sign_up
from shared.db import make_engine, transaction
from shared.events import ParticipantCancelled, ParticipantPromoted, ParticipantRegistered
from shared.links import sign_link
from tests.support.meetings import (
    AUTH,
    SECRET,
    cancel_link,
    contact_ids,
    csrf_of,
    login,
    meeting_form,
    meetings_client,
    outbox_types,
    schedule,
    set_clock,
    sign_up_member,
    signup_link,
    wait_for_types,
)
from tests.support.registration import element, text_of
from tests.support.servers import RedisServer


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    return tmp_path / "clock"


@pytest.fixture
def client(database_url: str, redis_server: RedisServer, clock_file: Path) -> Iterator[TestClient]:
    with meetings_client(database_url, redis_server.url, clock_file) as test_client:
        yield test_client


def person(name: str, email: str) -> dict[str, str]:
    return {"name": name, "email": email, "organisation": "Region Exempel", "dietary": ""}


def submit(client: TestClient, link: str, **fields: str) -> tuple[int, str]:
    page = client.get(link)
    assert page.status_code == 200, page.text
    answer = client.post(link, data={"csrf_token": csrf_of(page.text), **fields})
    return answer.status_code, answer.text


def participants(client: TestClient, meeting_id: int) -> list[tuple[str, str, int | None]]:
    rows = client.get(f"/api/v1/meetings/{meeting_id}/participants", headers=AUTH).json()
    return [(p["email"], p["status"], p["waiting_position"]) for p in rows]


def test_the_link_opens_a_form_prefilled_from_the_contact_and_the_sign_up_is_published(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"], name="Region Exempel", contact="anna@region.example")
    meeting = schedule(client, outside_weeks_reason="inga veckor")
    [contact] = contact_ids(database_url, "anna@region.example")
    link = signup_link(meeting["id"], contact)

    page = client.get(link)
    assert page.status_code == 200
    assert element(page.text, "email").attrs["value"] == "anna@region.example"
    assert element(page.text, "organisation").attrs["value"] == "Region Exempel"
    assert "Conventum, Fabriksgatan 5, Örebro" in text_of(page.text, "meeting-facts")

    status, html = submit(
        client, link, name="", email="anna@region.example", organisation="Region Exempel", dietary=""
    )
    assert status == 422 and text_of(html, "error-name") == "Ange namn."
    assert participants(client, meeting["id"]) == []

    status, html = submit(
        client,
        link,
        name="Anna Andersson",
        email="anna@region.example",
        organisation="Region Exempel",
        dietary="Vegetarisk",
    )
    assert status == 200 and "Du är anmäld!" in text_of(html, "confirmation")
    [event] = wait_for_types(redis_server.url, "participant.registered", 1)
    assert isinstance(event, ParticipantRegistered)
    assert event.status == "registered" and event.participant.contact_id == contact
    assert event.participant.email == "anna@region.example" and event.meeting.meeting_id == meeting["id"]


def test_signing_up_twice_with_the_same_email_is_one_registration(
    client: TestClient, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    submit(client, link, **person("Anna", "anna@region.example"))
    status, html = submit(client, link, **person("Anna A.", "ANNA@region.example"))
    assert status == 200 and "redan anmäld" in text_of(html, "already")
    assert participants(client, meeting["id"]) == [("anna@region.example", "registered", None)]
    assert [t for t, _c in outbox_types(database_url)].count("participant.registered") == 1


def test_past_capacity_people_wait_and_a_cancellation_promotes_the_first_in_the_same_transaction(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, capacity=2, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    for name in ("a", "b", "c", "d"):
        status, html = submit(client, link, **person(name.upper(), f"{name}@region.example"))
        assert status == 200
    assert "väntelistan" in text_of(html, "confirmation")
    assert text_of(html, "waiting-position") == "Du är nummer 2 på väntelistan."
    assert participants(client, meeting["id"]) == [
        ("a@region.example", "registered", None),
        ("b@region.example", "registered", None),
        ("c@region.example", "waiting", 1),
        ("d@region.example", "waiting", 2),
    ]
    first = client.get(f"/api/v1/meetings/{meeting['id']}/participants", headers=AUTH).json()[0]

    page = client.get(cancel_link(first["id"]))
    assert page.status_code == 200 and element(page.text, "confirm-cancel")
    assert participants(client, meeting["id"])[0][1] == "registered", "the confirmation page changes nothing"
    answer = client.post(cancel_link(first["id"]), data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 200 and "avbokad" in text_of(answer.text, "message-text")

    assert participants(client, meeting["id"]) == [
        ("b@region.example", "registered", None),
        ("c@region.example", "registered", None),
        ("d@region.example", "waiting", 1),
        ("a@region.example", "cancelled", None),
    ]
    rows = outbox_types(database_url)
    cancelled, promoted = rows[-2], rows[-1]
    assert (cancelled[0], promoted[0]) == ("participant.cancelled", "participant.promoted")
    assert cancelled[1] == promoted[1], "one act, one transaction, one correlation id"
    [event] = wait_for_types(redis_server.url, "participant.promoted", 1)
    assert isinstance(event, ParticipantPromoted) and event.participant.email == "c@region.example"
    [gone] = wait_for_types(redis_server.url, "participant.cancelled", 1)
    assert isinstance(gone, ParticipantCancelled) and gone.participant.email == "a@region.example"

    # Cancelling again changes nothing.
    again = client.post(cancel_link(first["id"]), data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 200
    assert [t for t, _c in outbox_types(database_url)].count("participant.cancelled") == 1


def test_two_sign_ups_for_the_last_place_do_not_both_get_it(client: TestClient, database_url: str) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, capacity=3, outside_weeks_reason="inga veckor")
    engine = make_engine(database_url)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            start.wait()
            with transaction(engine) as session:
                sign_up(
                    session,
                    meeting["id"],
                    PersonDraft(f"P{i}", f"p{i}@region.example", "Region", ""),
                    contact_id=None,
                    now=datetime(2018, 1, 15, 9, tzinfo=UTC),
                    correlation_id=f"c{i}",
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    statuses = [status for _e, status, _w in participants(client, meeting["id"])]
    assert statuses.count("registered") == 3 and statuses.count("waiting") == 5


def test_an_altered_expired_or_foreign_link_is_refused_with_a_clear_message(
    client: TestClient, database_url: str, clock_file: Path
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, outside_weeks_reason="inga veckor")
    contact = contact_ids(database_url, "anna@region.example")[0]
    link = signup_link(meeting["id"], contact)

    altered = client.get(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
    assert altered.status_code == 400 and "Länken är ogiltig." in text_of(altered.text, "message-text")
    foreign = sign_link(
        SECRET, "meeting-cancel", {"m": meeting["id"], "c": contact}, datetime(2018, 2, 1, tzinfo=UTC)
    )
    assert client.get(f"/moten/anmalan/{foreign}").status_code == 400
    unknown = client.get(signup_link(999, contact))
    assert unknown.status_code == 404

    set_clock(clock_file, datetime(2018, 2, 1, 0, 0, tzinfo=UTC))  # 01:00 on 1 February in Stockholm
    expired = client.get(link)
    assert expired.status_code == 400 and "Länken har gått ut." in text_of(expired.text, "message-text")
    # A link that lives longer (e.g. an old invitation) still meets the deadline.
    late = sign_link(
        SECRET, "meeting-signup", {"m": meeting["id"], "c": contact}, datetime(2018, 3, 1, tzinfo=UTC)
    )
    passed = client.get(f"/moten/anmalan/{late}")
    assert passed.status_code == 410
    assert text_of(passed.text, "message-text") == "Sista anmälningsdag har passerat."


def test_a_cancelled_meeting_takes_no_sign_ups(client: TestClient, database_url: str) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    page = client.get(link)
    login(client)
    staff_page = client.get(f"/staff/moten/{meeting['id']}")
    client.post(
        f"/staff/moten/{meeting['id']}/stall-in",
        data={"csrf_token": csrf_of(staff_page.text), "reason": "Lokalen brann"},
    )
    answer = client.post(
        link, data={"csrf_token": csrf_of(page.text), **person("Anna", "anna@region.example")}
    )
    assert answer.status_code == 410
    assert text_of(answer.text, "message-text") == "Mötet är inställt. Skäl: Lokalen brann"
    assert participants(client, meeting["id"]) == []


def test_a_sign_up_without_the_csrf_token_is_refused(client: TestClient, database_url: str) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    client.get(link)
    answer = client.post(link, data={"csrf_token": "forged", **person("Anna", "anna@region.example")})
    assert answer.status_code == 400
    assert participants(client, meeting["id"]) == []


def test_staff_see_participants_and_the_waiting_list_and_export_them_as_csv(
    client: TestClient, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, capacity=1, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    submit(
        client,
        link,
        name='=HYPERLINK("x")',
        email="a@region.example",
        organisation="Region Exempel",
        dietary="Glutenfri",
    )
    submit(client, link, **person("Bo", "bo@region.example"))
    login(client)
    page = client.get(f"/staff/moten/{meeting['id']}").text
    assert "a@region.example" in text_of(page, "registered-table")
    assert "bo@region.example" in text_of(page, "waiting-table")
    assert "RUS-träff i Örebro skäl 1 / 1" in text_of(
        client.get("/staff/moten", params={"year": "2018"}).text, "meetings-table"
    )

    export = client.get(f"/staff/moten/{meeting['id']}/deltagare.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.content.decode("utf-8").splitlines()
    assert lines[0] == "\ufeffStatus;Plats på väntelistan;Namn;E-post;Organisation;Kost;Anmäld"
    # The formula is defused: an apostrophe first, so a spreadsheet shows it as text.
    assert (
        lines[1] == 'Anmäld;;"\'=HYPERLINK(""x"")";a@region.example;Region Exempel;Glutenfri;2018-01-15 10:00'
    )
    assert lines[2].startswith("Väntelista;1;Bo;bo@region.example;")
    client.cookies.clear()
    assert client.get(f"/staff/moten/{meeting['id']}/deltagare.csv").status_code == 303


def test_more_places_move_the_waiting_list_up_at_once(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"])
    meeting = schedule(client, capacity=1, outside_weeks_reason="inga veckor")
    link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
    for name in ("a", "b", "c"):
        submit(client, link, **person(name.upper(), f"{name}@region.example"))
    login(client)
    page = client.get(f"/staff/moten/{meeting['id']}")
    more = {**meeting_form(page.text), "csrf_token": csrf_of(page.text), "capacity": "2"}
    assert client.post(f"/staff/moten/{meeting['id']}", data=more).status_code == 303
    assert participants(client, meeting["id"]) == [
        ("a@region.example", "registered", None),
        ("b@region.example", "registered", None),
        ("c@region.example", "waiting", 1),
    ]
    [promoted] = wait_for_types(redis_server.url, "participant.promoted", 1)
    assert isinstance(promoted, ParticipantPromoted) and promoted.participant.email == "b@region.example"
    assert promoted.meeting.capacity == 2 and promoted.meeting.sequence == 1

    page = client.get(f"/staff/moten/{meeting['id']}")
    fewer = {**meeting_form(page.text), "csrf_token": csrf_of(page.text), "capacity": "1"}
    refused = client.post(f"/staff/moten/{meeting['id']}", data=fewer)
    assert refused.status_code == 422
    assert text_of(refused.text, "error-capacity") == (
        "2 personer har redan plats; antalet platser kan inte bli färre."
    )
