"""The dead-letters page and API in a service (invoicing here; all three mount the same router)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.invoicing.app import create_app
from services.notifications.app import create_app as create_notifications
from shared.events import REGISTRATION_STREAM
from tests.integration.test_notifications_service import TOKEN, make_settings
from tests.support.dead_letters import seed_dead_letter
from tests.support.invoicing import AUTH, invoicing_settings, login
from tests.support.registration import registration_client
from tests.support.servers import RedisServer, SmtpServer
from tests.support.streams import read_events


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    with TestClient(create_app(invoicing_settings(database_url, redis_server.url)),
                    follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def replayed_ids(redis_url: str) -> list[int]:
    return [event.signup_id for event in read_events(redis_url, REGISTRATION_STREAM)]


def test_the_page_needs_a_login_then_lists_the_dead_letters_with_a_replay_button(
        client: TestClient, redis_server: RedisServer) -> None:
    letter = seed_dead_letter(redis_server.url, "invoicing", 1)
    seed_dead_letter(redis_server.url, "notifications", 2)

    response = client.get("/dead-letters")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")

    login(client)
    page = client.get("/dead-letters")
    assert page.status_code == 200
    assert "Döda meddelanden" in page.text and letter in page.text
    assert "no fee policy for 2018" in page.text and "signup.completed" in page.text
    assert f'action="/dead-letters/{letter}/replay"' in page.text
    assert page.text.count("Spela upp igen") == 1, "only this service's dead letter"
    assert "<script" not in page.text and "style=" not in page.text
    assert "Content-Security-Policy" in page.headers


def test_replaying_from_the_page_needs_the_csrf_token_and_then_publishes_once(
        client: TestClient, redis_server: RedisServer) -> None:
    letter = seed_dead_letter(redis_server.url, "invoicing", 3)
    login(client)
    token = csrf_of(client.get("/dead-letters").text)

    forged = client.post(f"/dead-letters/{letter}/replay", data={"stream": REGISTRATION_STREAM})
    assert forged.status_code == 400 and "Formuläret har gått ut" in forged.text
    assert replayed_ids(redis_server.url) == []

    done = client.post(f"/dead-letters/{letter}/replay",
                       data={"csrf_token": token, "stream": REGISTRATION_STREAM})
    assert done.status_code == 303 and done.headers["location"] == "/dead-letters?replayed=1"
    assert replayed_ids(redis_server.url) == [3]
    after = client.get(done.headers["location"])
    assert "Uppspelade: 1 dött meddelande." in after.text
    assert "Inga döda meddelanden för invoicing" in after.text

    twice = client.post(f"/dead-letters/{letter}/replay",
                        data={"csrf_token": token, "stream": REGISTRATION_STREAM})
    assert twice.status_code == 303 and "missing=" in twice.headers["location"]
    assert "finns inte längre" in client.get(twice.headers["location"]).text
    assert replayed_ids(redis_server.url) == [3]


def test_replay_all_from_the_page_replays_every_dead_letter_of_the_service(
        client: TestClient, redis_server: RedisServer) -> None:
    for signup_id in (4, 5):
        seed_dead_letter(redis_server.url, "invoicing", signup_id)
    login(client)
    token = csrf_of(client.get("/dead-letters").text)
    done = client.post("/dead-letters/replay-all", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == "/dead-letters?replayed=2"
    assert replayed_ids(redis_server.url) == [4, 5]


def test_the_api_needs_a_token_lists_and_replays_and_answers_404_for_an_unknown_id(
        client: TestClient, redis_server: RedisServer) -> None:
    letter = seed_dead_letter(redis_server.url, "invoicing", 6)
    assert client.get("/api/v1/dead-letters").status_code == 401
    assert client.post(f"/api/v1/dead-letters/{letter}/replay").status_code == 401

    listed = client.get("/api/v1/dead-letters", headers=AUTH).json()
    assert listed["group"] == "invoicing"
    [item] = listed["dead_letters"]
    assert item["id"] == letter and item["stream"] == REGISTRATION_STREAM
    assert item["event_type"] == "signup.completed" and "payload" not in item

    replayed = client.post(f"/api/v1/dead-letters/{letter}/replay", headers=AUTH)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["dead_letter"]["id"] == letter and replayed.json()["new_entry_id"]
    assert client.post(f"/api/v1/dead-letters/{letter}/replay", headers=AUTH).status_code == 404
    assert client.post("/api/v1/dead-letters/not-an-id/replay", headers=AUTH).status_code == 404
    assert client.get("/api/v1/dead-letters", headers=AUTH).json()["dead_letters"] == []
    assert replayed_ids(redis_server.url) == [6]


def test_every_service_serves_its_own_dead_letters(database_url: str, redis_server: RedisServer,
                                                   smtp_server: SmtpServer, tmp_path: Path) -> None:
    seed_dead_letter(redis_server.url, "notifications", 7)
    notifications = make_settings(database_url, redis_server.url, smtp_server.port, tmp_path)
    with TestClient(create_notifications(notifications)) as client:
        listed = client.get("/api/v1/dead-letters", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert listed["group"] == "notifications" and len(listed["dead_letters"]) == 1
    # Each service owns its database (they share only Redis).
    registration_db = f"sqlite:///{tmp_path}/registration.db"
    with registration_client(registration_db, redis_server.url, api_token=TOKEN) as client:
        listed = client.get("/api/v1/dead-letters", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert listed == {"group": "registration", "dead_letters": []}
        assert client.get("/dead-letters").status_code == 303
