"""A participant signs up for a meeting in a real browser: a typo in the e-mail, corrected, then confirmed.

The registration service runs as a real process on a SQLite file and a real Redis, its clock moved to
January 2018 through ``REGLAB_CLOCK_FILE``; the meeting is scheduled through the staff JSON API, as the
notifications engineer's e2e test does, and the signed link is made as notifications makes it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from services.registration.meetings.rules import end_of_day
from shared.links import sign_link
from tests.support.meetings import API_TOKEN, NOW, SECRET, meeting_body
from tests.support.registration import signup_body
from tests.support.servers import RedisServer, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


@pytest.fixture
def service(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[str, Path]]:
    port = free_port()
    clock = tmp_path / "clock"
    clock.write_text(NOW.isoformat(), encoding="utf-8")
    database = tmp_path / "registration.db"
    env = {**os.environ, "REDIS_URL": redis_server.url, "REGISTRATION_PORT": str(port),
           "REGISTRATION_DATABASE_URL": f"sqlite:///{database}", "REGLAB_ENV": "development",
           "REGLAB_CLOCK_FILE": str(clock), "REGLAB_SECRET_KEY": SECRET, "REGLAB_API_TOKEN": API_TOKEN}
    log_path = tmp_path / "registration.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.registration"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=30)
            yield f"http://127.0.0.1:{port}", database
        finally:
            process.terminate()
            code = process.wait(15)
    assert code in (0, -signal.SIGTERM), log_path.read_text(errors="replace")[-3000:]


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(locale="sv-SE")
        finally:
            browser.close()


def test_a_typo_in_the_email_is_shown_beside_it_and_the_corrected_sign_up_is_confirmed(
        service: tuple[str, Path], page: Page) -> None:
    url, database = service
    body = signup_body("556677-8899", ["rus"], name="Region Exempel")
    body["contact"] = {"name": "Anna Andersson", "email": "anna@region.example"}
    post_json(f"{url}/api/v1/signups", body)
    meeting = post_json(f"{url}/api/v1/meetings", meeting_body(outside_weeks_reason="Inga veckor satta"),
                        token=API_TOKEN)
    with sqlite3.connect(database) as connection:
        [(contact_id,)] = connection.execute("SELECT id FROM reg_contact WHERE email = 'anna@region.example'")
    token = sign_link(SECRET, "meeting-signup", {"m": meeting["id"], "c": contact_id},
                      end_of_day(date.fromisoformat(meeting["registration_deadline"])))

    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{url}/moten/anmalan/{token}")
    expect(page.locator("h1")).to_have_text("Anmälan till RUS-träff i Örebro")
    expect(page.locator("#name")).to_have_value("Anna Andersson")
    expect(page.locator("#organisation")).to_have_value("Region Exempel")
    page.fill("#email", "anna@region")
    page.fill("#dietary", "Vegetarisk")
    page.click("#submit")

    error = page.locator("#field-email .field-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Ogiltig e-postadress")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.locator("#dietary")).to_have_value("Vegetarisk")

    page.fill("#email", "anna@region.example")
    page.click("#submit")

    expect(page.locator("#confirmation h1")).to_have_text("Du är anmäld!")
    expect(page.locator("#meeting-facts")).to_contain_text("onsdag 7/2 2018, 10:00–16:00")
    assert problems == []
    with urllib.request.urlopen(urllib.request.Request(
            f"{url}/api/v1/meetings/{meeting['id']}/participants",
            headers={"Authorization": f"Bearer {API_TOKEN}"}), timeout=10) as answer:
        [participant] = json.loads(answer.read())
    assert (participant["email"], participant["status"], participant["dietary"]) == (
        "anna@region.example", "registered", "Vegetarisk")
