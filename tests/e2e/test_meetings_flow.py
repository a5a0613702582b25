"""A meeting from scheduling to its reminders, through the three services as real processes.

Staff schedule a meeting (capacity 1) with registration's API; the members'
contacts get invitations with a valid .ics; one signs up through the emailed
link, the other lands on the waiting list and is promoted when the first
cancels through their own link; then the injected clock (REGLAB_CLOCK_FILE)
passes the reminders' times. Notifications is killed (SIGKILL) while reminders
are still due and runs several scheduler ticks at the same time after it comes
back: each reminder arrives once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import icalendar
import pytest

from devtools.bench import org_number
from devtools.stack import Stack
from tests.e2e.conftest import API_TOKEN, move_clock, running_stack
from tests.support.servers import SmtpServer

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
STAFF = "kansliet@reglab.example"
ANNA, BO = "anna@region.example", "bo@norr.example"
# Invited too: Cy never answers (and is reminded), Dag unsubscribes (and is not).
CY, DAG = "cy@syd.example", "dag@vast.example"
# The shipped fee policy is 2018's, so the clock is moved there.
JANUARY = "2018-01-10T09:00:00+01:00"
DEADLINE_REMINDER = "2018-01-24T09:30:00+01:00"  # the deadline 2018-01-31, 09.00, minus 7 days
WEEK_BEFORE = "2018-01-31T10:00:00+01:00"  # the meeting starts 2018-02-07 10.00 Stockholm
DAY_BEFORE = "2018-02-06T10:30:00+01:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Stack]:
    env = {"STAFF_EMAIL": STAFF, "REMINDER_POLL_SECONDS": "0.3",
           "REMINDERS_EFFECTIVE_FROM": "2018-01-01T00:00:00+00:00"}
    with running_stack(request, tmp_path, smtp_server, env, clock_at=JANUARY) as system:
        yield system


def signup(number: str, name: str, email: str) -> dict[str, object]:
    return {
        "organisation": {
            "name": name,
            "org_number": number,
            "invoice_email": f"faktura-{email}",
            "address": {"street": "Storgatan 1", "postal_code": "111 22", "city": "Stockholm"},
            "buyer_reference": "Ref",
        },
        "contact": {"name": email.split("@")[0].capitalize(), "email": email},
        "networks": ["rus"],
        "year": 2018,
    }


def meeting_json() -> dict[str, object]:
    """As agreed with registration: times without an offset are Stockholm time."""
    return {
        "network": "rus",
        "title": 'RUS-träff; planering, "budget" och mer',
        "starts_at": "2018-02-07T10:00:00",
        "ends_at": "2018-02-07T16:00:00",
        "venue": "Conventum",
        "address": "Fabriksgatan 5, Örebro",
        "capacity": 1,
        "agenda": "10.00 Välkommen\n11.00 Regional utveckling",
        "registration_deadline": "2018-01-31",
        "costs": {"venue": "1000.00", "food": "0", "speakers": "0"},
        "outside_weeks_reason": "Testmöte utanför nätverksveckorna",
    }


def wait_for(
    smtp: SmtpServer, to: str, subject_start: str, count: int = 1, timeout: float = 60.0
) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    found: list[EmailMessage] = []
    while time.monotonic() < deadline:
        found = [m for m in smtp.to(to) if str(m["Subject"]).startswith(subject_start)]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(
        f"{count} × {subject_start!r} to {to} not received; got {len(found)}: "
        f"{[str(m['Subject']) for m in smtp.messages]}"
    )


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def ics(message: EmailMessage) -> icalendar.Event:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    content = part.get_content()
    calendar = icalendar.Calendar.from_ical(content.encode() if isinstance(content, str) else content)
    [event] = calendar.walk("VEVENT")
    assert isinstance(event, icalendar.Event)
    return event


def link(message: EmailMessage, path: str) -> str:
    found = re.search(r"(http://127\.0\.0\.1:\d+" + re.escape(path) + r"[A-Za-z0-9._-]+)", text(message))
    assert found, f"no {path} link in {message['Subject']}"
    return found.group(1)


def submit_link_form(url: str, data: dict[str, str]) -> httpx.Response:
    """Open an emailed link like a browser (the CSRF cookie), then post its form with the token."""
    with httpx.Client(follow_redirects=True) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text[:1000]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "the page's form carries a CSRF token"
        return browser.post(url, data={**data, "csrf_token": token.group(1)})


def wait_handled(stack: Stack, event_type: str, timeout: float = 30.0) -> None:
    """Wait until notifications counts the event type as handled (its /metrics)."""
    pattern = re.compile(
        r'reglab_events_handled_total\{[^}]*type="' + re.escape(event_type) + r'"[^}]*\} ([0-9.]+)'
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(httpx.get(f"{stack.url('notifications')}/metrics").text)
        if found and float(found.group(1)) >= 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"notifications did not handle {event_type} within {timeout} s")


def ledger(stack: Stack) -> dict[tuple[str, str], list[str]]:
    """(rule, recipient) → the statuses of its ledger rows: one row each, unless something went twice."""
    answer = httpx.get(f"{stack.url('notifications')}/api/v1/reminders", headers=AUTH)
    assert answer.status_code == 200, answer.text
    rows: dict[tuple[str, str], list[str]] = {}
    for row in answer.json()["rows"]:
        rows.setdefault((row["rule"], row["recipient"]), []).append(row["status"])
    return rows


def wait_ticks(stack: Stack, count: int, timeout: float = 30.0) -> None:
    """Wait until the (restarted) notifications has run ``count`` reminder scheduler ticks."""
    pattern = re.compile(r"^reglab_reminder_ticks_total ([0-9.]+)$", re.MULTILINE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(httpx.get(f"{stack.url('notifications')}/metrics").text)
        if found and float(found.group(1)) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"notifications ran fewer than {count} reminder ticks within {timeout} s")


def participants(stack: Stack, meeting_id: int) -> dict[str, str]:
    answer = httpx.get(f"{stack.url('registration')}/api/v1/meetings/{meeting_id}/participants", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return {row["email"]: row["status"] for row in answer.json()}


def test_a_meeting_from_invitation_through_the_waiting_list_to_reminders_sent_once(
    stack: Stack, smtp_server: SmtpServer
) -> None:
    registration = stack.url("registration")
    members = (
        ("212000-0142", "Region Exempel", ANNA),
        ("202100-6255", "Kommun Norr", BO),
        (org_number(901), "Region Syd", CY),
        (org_number(902), "Kommun Väst", DAG),
    )
    for number, name, email in members:
        assert (
            httpx.post(f"{registration}/api/v1/signups", json=signup(number, name, email)).status_code == 201
        )

    created = httpx.post(f"{registration}/api/v1/meetings", json=meeting_json(), headers=AUTH)
    assert created.status_code == 201, created.text
    meeting_id = created.json()["id"]

    # Invitations, each with a calendar invitation that parses and names the meeting.
    invitations = {who: wait_for(smtp_server, who, "Inbjudan")[0] for who in (ANNA, BO, CY, DAG)}
    for message in invitations.values():
        event = ics(message)
        assert str(event["UID"]) == f"meeting-{meeting_id}@reglab"
        assert event.decoded("DTSTART") == datetime.fromisoformat("2018-02-07T10:00:00+01:00")
        assert str(event["SUMMARY"]).startswith('RUS-träff; planering, "budget" och mer')
        assert link(message, "/avregistrera/")

    # Anna signs up through her link and gets the place; Bo lands on the waiting list.
    for who, name in ((ANNA, "Anna"), (BO, "Bo")):
        answer = submit_link_form(
            link(invitations[who], "/moten/anmalan/"),
            {"name": name, "email": who, "organisation": "Org", "dietary": ""},
        )
        assert answer.status_code == 200, answer.text[:1000]
    [confirmation] = wait_for(smtp_server, ANNA, "Bekräftelse: RUS")
    assert str(ics(confirmation)["UID"]) == f"meeting-{meeting_id}@reglab"
    wait_for(smtp_server, BO, "Väntelista")
    assert participants(stack, meeting_id) == {ANNA: "registered", BO: "waiting"}

    # Anna cancels with the link in her confirmation; Bo is promoted and told, with the .ics.
    assert submit_link_form(link(confirmation, "/moten/avboka/"), {}).status_code == 200
    wait_for(smtp_server, ANNA, "Avbokad")
    [promotion] = wait_for(smtp_server, BO, "Du har fått en plats")
    assert str(ics(promotion)["UID"]) == f"meeting-{meeting_id}@reglab"
    assert participants(stack, meeting_id) == {ANNA: "cancelled", BO: "registered"}

    # Dag unsubscribes through the link in the invitation; a week before the deadline Cy, who
    # has not answered, is reminded with a sign-up link, and Dag, Anna and Bo are not.
    assert submit_link_form(link(invitations[DAG], "/avregistrera/"), {}).status_code == 200
    wait_handled(stack, "contact.unsubscribed")  # by notifications, before the clock moves
    move_clock(stack, DEADLINE_REMINDER)
    [nudge] = wait_for(smtp_server, CY, "Påminnelse: sista anmälningsdag")
    assert link(nudge, "/moten/anmalan/") and link(nudge, "/avregistrera/")
    for who in (ANNA, BO, DAG):
        assert [m for m in smtp_server.to(who) if "sista anmälningsdag" in str(m["Subject"])] == []

    # A week before: Bo (registered) is reminded; Anna (cancelled) is not.
    move_clock(stack, WEEK_BEFORE)
    [week] = wait_for(smtp_server, BO, "Påminnelse: RUS")
    assert "Om 7 dagar" in text(week) and link(week, "/moten/avboka/")

    # Notifications crashes (SIGKILL) and comes back at the same clock time, when the week-before
    # and deadline reminders are still due: only the ledger keeps them from going again.
    before = ledger(stack)
    assert before[("meeting_7d", BO)] == ["queued"] and before[("invitation_7d", CY)] == ["queued"]
    stack.processes["notifications"].kill()
    stack.processes["notifications"].start()
    stack.wait_healthy("notifications")
    wait_ticks(stack, 5)
    assert ledger(stack) == before
    assert len([m for m in smtp_server.to(BO) if str(m["Subject"]).startswith("Påminnelse: RUS")]) == 1
    assert len([m for m in smtp_server.to(CY) if "sista anmälningsdag" in str(m["Subject"])]) == 1

    # Then the day before: one more reminder, and nothing twice.
    move_clock(stack, DAY_BEFORE)
    reminders = wait_for(smtp_server, BO, "Påminnelse: RUS", count=2)
    time.sleep(2.0)  # several scheduler ticks: a duplicate would show now
    reminders = [m for m in smtp_server.to(BO) if str(m["Subject"]).startswith("Påminnelse: RUS")]
    assert len(reminders) == 2 and "I morgon" in text(reminders[1])
    assert [m for m in smtp_server.to(ANNA) if str(m["Subject"]).startswith("Påminnelse: RUS")] == []
    message_ids = [str(m["Message-ID"]) for m in smtp_server.messages]
    assert len(message_ids) == len(set(message_ids)), "an email was delivered twice"
