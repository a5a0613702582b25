"""Contacts: made from sign-ups (also those from before contacts existed), added and removed by staff,
and unsubscribed through the invitation's link. On SQLite and PostgreSQL with a real Redis.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.registration.meetings.routes import sync_contacts_at_start
from shared.db import make_engine
from shared.events import ContactUnsubscribed, MeetingScheduled
from tests.support.meetings import (
    contact_ids,
    csrf_of,
    login,
    meetings_client,
    outbox_types,
    schedule,
    sign_up_member,
    unsubscribe_link,
    wait_for_types,
)
from tests.support.registration import text_of
from tests.support.servers import RedisServer


@pytest.fixture
def client(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as test_client:
        yield test_client


def invitee_emails(redis_url: str, count: int) -> list[list[str]]:
    events = wait_for_types(redis_url, "meeting.scheduled", count)
    return [sorted(i.email for i in e.invitees) for e in events if isinstance(e, MeetingScheduled)]


def test_each_network_signed_up_for_gets_the_sign_ups_contact_first_and_once(
    client: TestClient, database_url: str
) -> None:
    organisation = sign_up_member(client, "556677-8899", ["rus", "ung-region"], contact="anna@region.example")
    sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")  # again: no new contact
    sign_up_member(client, "556677-8899", ["rus"], contact="bo@region.example")  # a second person
    login(client)
    table = text_of(client.get(f"/staff/organisationer/{organisation}").text, "contacts-table")
    assert table.index("anna@region.example") < table.index("bo@region.example")
    assert len(contact_ids(database_url, "anna@region.example")) == 2  # rus and ung-region
    assert len(contact_ids(database_url, "bo@region.example")) == 1


def test_sign_ups_from_before_contacts_existed_get_their_contacts_at_start(
    database_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as client:
        sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    engine = make_engine(database_url)
    with engine.begin() as connection:  # as a database from before contacts existed: sign-ups, no contacts
        for table in ("reg_contact_synced_signup", "reg_contact", "reg_contact_sync"):
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    with meetings_client(database_url, redis_server.url, tmp_path / "clock"):
        assert len(contact_ids(database_url, "anna@region.example")) == 1


def test_staff_add_and_remove_contacts_which_changes_who_is_invited_and_is_audited(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    organisation = sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    login(client)
    page = client.get(f"/staff/organisationer/{organisation}")
    bad = client.post(
        f"/staff/organisationer/{organisation}/kontakter",
        data={"csrf_token": csrf_of(page.text), "network": "rus", "name": "Cy", "email": "cy@"},
    )
    assert bad.status_code == 422 and "Ogiltig e-postadress" in text_of(bad.text, "error-email")
    added = client.post(
        f"/staff/organisationer/{organisation}/kontakter",
        data={
            "csrf_token": csrf_of(page.text),
            "network": "rus",
            "name": "Cy Svensson",
            "email": "Cy@Region.example",
        },
    )
    assert added.status_code == 303
    twice = client.post(
        f"/staff/organisationer/{organisation}/kontakter",
        data={"csrf_token": csrf_of(page.text), "network": "rus", "name": "Cy", "email": "cy@region.example"},
    )
    assert twice.status_code == 422
    schedule(client, outside_weeks_reason="inga veckor")
    assert invitee_emails(redis_server.url, 1) == [["anna@region.example", "cy@region.example"]]

    [anna] = contact_ids(database_url, "anna@region.example")
    page = client.get(f"/staff/organisationer/{organisation}")
    removed = client.post(f"/staff/kontakter/{anna}/ta-bort", data={"csrf_token": csrf_of(page.text)})
    assert removed.status_code == 303
    # A later sign-up by the same person does not bring a removed contact back.
    sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    schedule(
        client, starts_at="2018-03-07T10:00", ends_at="2018-03-07T12:00", outside_weeks_reason="inga veckor"
    )
    assert invitee_emails(redis_server.url, 2)[1] == ["cy@region.example"]

    shown = client.get(f"/staff/organisationer/{organisation}").text
    audit = text_of(shown, "audit")
    assert "contact.add" in audit and "Cy Svensson <cy@region.example> för RUS-nätverket" in audit
    assert "contact.remove" in audit and "anna@region.example" in audit
    assert "borttagen" in text_of(shown, f"contact-{anna}")


def test_a_contact_unsubscribes_through_the_link_and_is_no_longer_invited(
    client: TestClient, redis_server: RedisServer, database_url: str
) -> None:
    sign_up_member(client, "556677-8899", ["rus"], contact="anna@region.example")
    sign_up_member(client, "212000-0142", ["rus"], contact="bo@norr.example")
    schedule(client, outside_weeks_reason="inga veckor")  # the invitation carries the link
    [anna] = contact_ids(database_url, "anna@region.example")
    link = unsubscribe_link(anna)

    page = client.get(link)
    assert page.status_code == 200 and "anna@region.example" in page.text
    assert client.post(link, data={"csrf_token": "forged"}).status_code == 400
    answer = client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 200
    assert "får inte fler inbjudningar" in text_of(answer.text, "message-text")
    [event] = wait_for_types(redis_server.url, "contact.unsubscribed", 1)
    assert isinstance(event, ContactUnsubscribed) and (event.contact_id, event.email) == (
        anna,
        "anna@region.example",
    )

    client.post(link, data={"csrf_token": csrf_of(page.text)})  # twice: one event
    assert [t for t, _c in outbox_types(database_url)].count("contact.unsubscribed") == 1
    schedule(
        client, starts_at="2018-03-07T10:00", ends_at="2018-03-07T12:00", outside_weeks_reason="inga veckor"
    )
    assert invitee_emails(redis_server.url, 2) == [
        ["anna@region.example", "bo@norr.example"],
        ["bo@norr.example"],
    ]
    assert client.get(unsubscribe_link(anna)[:-2] + "xx").status_code == 400


def test_two_instances_starting_together_make_each_contact_once(
    database_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as client:
        sign_up_member(client, "556677-8899", ["rus", "analytiker"], contact="anna@region.example")
        sign_up_member(client, "212000-0142", ["rus"], contact="bo@norr.example")
    engine = make_engine(database_url)
    with engine.begin() as connection:  # a fresh start: no contacts, no lock row
        for table in ("reg_contact_synced_signup", "reg_contact", "reg_contact_sync"):
            connection.execute(text(f"DELETE FROM {table}"))
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def instance() -> None:
        try:
            start.wait()
            sync_contacts_at_start(engine)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    assert len(contact_ids(database_url, "anna@region.example")) == 2
    assert len(contact_ids(database_url, "bo@norr.example")) == 1


def test_the_dashboard_links_each_networks_member_count_to_the_list_of_its_members(
    client: TestClient,
) -> None:
    sign_up_member(client, "556677-8899", ["rus", "ung-region"], name="Region Exempel")
    sign_up_member(client, "212000-0142", ["rus"], name="Kommun Exempel", contact="bo@kommun.example")
    login(client)
    dashboard = client.get("/staff?year=2018").text
    assert '/staff/organisationer?natverk=ung-region&amp;ar=2018' in dashboard
    members = client.get("/staff/organisationer?natverk=ung-region&ar=2018")
    table = text_of(members.text, "organisations-table")
    assert "Region Exempel" in table and "Kommun Exempel" not in table
    assert "Medlemmar i" in members.text
    both = text_of(client.get("/staff/organisationer?natverk=rus&ar=2018").text, "organisations-table")
    assert "Region Exempel" in both and "Kommun Exempel" in both
    assert "Inga medlemmar" in client.get("/staff/organisationer?natverk=rus&ar=2019").text
    unfiltered = client.get("/staff/organisationer?natverk=rus&ar=tjugo")  # a bad year: the whole list
    assert unfiltered.status_code == 200
    assert "Kommun Exempel" in text_of(unfiltered.text, "organisations-table")
