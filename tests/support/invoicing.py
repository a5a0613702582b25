"""Helpers for the invoicing service's tests: sign-up events, publishing like the relay, logging in."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable
from typing import Any

import pypdf
from fastapi.testclient import TestClient
from faststream.redis import RedisBroker

from services.invoicing.settings import InvoicingSettings
from shared.events import (
    REGISTRATION_STREAM,
    Address,
    Contact,
    EventBase,
    MembershipInfo,
    OrganisationSnapshot,
    SignupCompleted,
    utc_now,
)

API_TOKEN = "invoicing-test-token-0123456789"
ADMIN_PASSWORD = "invoicing-test-password-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

NETWORK_NAMES = {
    "rus": "RUS-nätverket",
    "ung-region": "Ung region",
    "fysisk-planering": "Fysisk planering",
    "integration": "Integrationsnätverket",
    "analytiker": "Analytikernätverket",
    "kompetensforsorjning": "Kompetensförsörjningsnätverket",
    "utvardering": "Utvärderingsnätverket",
    "smart-specialisering": "Smart specialisering",
}


def invoicing_settings(database_url: str, redis_url: str) -> InvoicingSettings:
    return InvoicingSettings(
        database_url=database_url, redis_url=redis_url, environment="development", api_token=API_TOKEN,
        admin_user="ekonomi", admin_password=ADMIN_PASSWORD, relay_poll_seconds=0.1,
        reclaim_idle_ms=2000,
    )


def signup_event(signup_id: int, memberships: list[tuple[int, str]], *, created: bool = True,
                 organisation_id: int = 1, org_number: str = "2321000016",
                 name: str = "Region Jämtland Härjedalen", year: int = 2018) -> SignupCompleted:
    """A sign-up as registration publishes it: (membership id, network code) pairs."""
    organisation = OrganisationSnapshot(
        id=organisation_id, name=name, org_number=org_number, invoice_email="faktura@region.example",
        address=Address(street="Box 654", postal_code="831 27", city="Östersund"),
        buyer_reference="ABC123")
    return SignupCompleted(
        occurred_at=utc_now(), correlation_id=f"signup-{signup_id}", signup_id=signup_id,
        organisation=organisation, contact=Contact(name="Örjan Åkesson", email="orjan@region.example"),
        year=year,
        memberships=tuple(
            MembershipInfo(membership_id=mid, network_code=code, network_name=NETWORK_NAMES[code], year=year,
                           created=created, fee_exempt=False)
            for mid, code in memberships),
    )


def publish(redis_url: str, *events: EventBase) -> None:
    """Publish to reglab.registration the way the outbox relay does (event id as message_id)."""

    async def go() -> None:
        broker = RedisBroker(redis_url)
        await broker.connect()
        try:
            for event in events:
                await broker.publish(event.model_dump_json(), stream=REGISTRATION_STREAM,
                                     headers={"message_id": str(event.event_id)},
                                     correlation_id=event.correlation_id)
        finally:
            await broker.stop()

    asyncio.run(go())


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; returns its value. Bounded: fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.05)


def pdf_text(pdf: bytes) -> str:
    """The PDF's words, whitespace collapsed (no-break spaces included)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u00a0", " ").split())


def login(client: TestClient, username: str = "ekonomi", password: str = ADMIN_PASSWORD) -> None:
    """Log in through the form, with the CSRF cookie and field, as a browser does."""
    form = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match, "the login form has a CSRF token"
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": match.group(1), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
