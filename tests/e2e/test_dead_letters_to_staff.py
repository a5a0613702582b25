"""A poison event through the three services as processes: staff told once per dead letter; a replay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
from faststream.redis import RedisBroker

from devtools.stack import Stack
from shared.events import REGISTRATION_STREAM
from tests.e2e.conftest import API_TOKEN
from tests.support.servers import SmtpServer

STAFF = "kansliet@reglab.example"  # STAFF_EMAIL's default
ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def publish_poison(redis_url: str) -> None:
    async def go() -> None:
        broker = RedisBroker(redis_url)
        await broker.connect()
        try:
            await broker.publish('{"type": "signup.completed", "year": "soon"}', stream=REGISTRATION_STREAM)
        finally:
            await broker.stop()

    asyncio.run(go())


def staff_subjects(smtp: SmtpServer, count: int, timeout: float = 60.0) -> list[str]:
    """Wait for ``count`` staff emails, then a moment more to catch any extra."""
    deadline = time.monotonic() + timeout
    while len(smtp.to(STAFF)) < count:
        assert time.monotonic() < deadline, f"{len(smtp.to(STAFF))} staff emails, wanted {count}"
        time.sleep(0.1)
    time.sleep(1.5)
    return sorted(str(message["Subject"]) for message in smtp.to(STAFF))


def test_a_poison_event_emails_staff_once_per_dead_letter_and_replaying_it_is_reported_again(
        stack: Stack, smtp_server: SmtpServer) -> None:
    publish_poison(stack.redis_url)

    # Both groups reading reglab.registration gave up on it: two dead letters, two emails.
    assert staff_subjects(smtp_server, 2) == ["Dött meddelande i invoicing: signup.completed",
                                              "Dött meddelande i notifications: signup.completed"]
    listed = subprocess.run([sys.executable, "-m", "services.invoicing", "dead-letters", "list"],
                            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "1 dött meddelande för invoicing" in listed.stdout
    with httpx.Client(base_url=stack.url("invoicing"), headers=AUTH) as invoicing:
        [letter] = invoicing.get("/api/v1/dead-letters").json()["dead_letters"]
        assert letter["id"] in listed.stdout and "invalid payload" in letter["error"]
        [email] = [m for m in smtp_server.to(STAFF) if "invoicing" in str(m["Subject"])]
        body = email.get_body(preferencelist=("plain",))
        assert body is not None
        assert f"dead-letters replay {letter['id']}" in body.get_content()

        # A replay before the cause is fixed fails again: a new dead letter in each group
        # on the stream (a new entry reaches them all), each reported once.
        assert invoicing.post(f"/api/v1/dead-letters/{letter['id']}/replay").status_code == 200
        assert len(staff_subjects(smtp_server, 4)) == 4
        [again] = invoicing.get("/api/v1/dead-letters").json()["dead_letters"]
        assert again["id"] != letter["id"]
