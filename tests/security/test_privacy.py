"""GDPR across the three services: export what is held about a person, erase it, keep the invoices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import MetaData
from sqlmodel import Session, select

from services.notifications.models import Email
from services.registration.models import Signup
from shared import wire
from shared.audit import AuditEntry
from shared.db import make_engine
from shared.deadletters import DeadLetterStore, forget_dead_letters, record_dead_letter
from shared.events import ALL_STREAMS, INVOICING_STREAM, REGISTRATION_STREAM, utc_now
from shared.outbox import OutboxMessage, prune_published
from shared.privacy import person_subject
from shared.retention import trim_stream
from tests.security.conftest import API_TOKEN, PASSWORD, System, csrf_of, login
from tests.support.meetings import AUTH as MEETINGS_AUTH
from tests.support.meetings import contact_ids, meetings_client, schedule, sign_up_member, signup_link
from tests.support.redis_dump import keys_naming
from tests.support.registration import signup_body
from tests.support.servers import RedisServer

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ANNA = "anna@region.example"
INVOICES = "faktura@region.example"


def eventually(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def export(system: System, service: str, email: str) -> dict[str, Any]:
    answer = system[service].get("/api/v1/privacy/export", params={"email": email}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def rows(database_url: str, model: Any) -> list[Any]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(model)).all())
    finally:
        engine.dispose()


def sign_up_and_wait(system: System) -> None:
    body = signup_body("556677-8899", networks=["rus"])
    body["contact"] = {"name": "Anna Andersson", "email": "Anna@Region.example"}
    assert system["registration"].post("/api/v1/signups", json=body).status_code == 201
    other = signup_body("2120000142", networks=["analytiker"], invoice_email="ekonomi@kommun.example")
    other["contact"] = {"name": "Bo Berg", "email": "bo@kommun.example"}
    assert system["registration"].post("/api/v1/signups", json=other).status_code == 201
    eventually(lambda: len(export(system, "notifications", ANNA)["data"]["emails"]) == 1, "the confirmation")
    eventually(lambda: export(system, "invoicing", INVOICES)["data"]["invoices"], "the invoice")
    eventually(lambda: export(system, "notifications", INVOICES)["data"]["emails"], "the invoice email")


def test_staff_export_everything_held_about_a_person_from_each_service(system: System) -> None:
    sign_up_and_wait(system)
    registration = export(system, "registration", " ANNA@region.example ")
    [signup] = registration["data"]["signups"]
    assert signup["contact_name"] == "Anna Andersson" and signup["organisation"] == "Region Exempel"
    [email] = export(system, "notifications", ANNA)["data"]["emails"]
    assert email["kind"] == "signup_confirmation" and "Anna Andersson" in email["message"]
    [invoice] = export(system, "invoicing", INVOICES)["data"]["invoices"]
    assert "Bokföringslagen" in invoice["kept_because"]
    assert export(system, "invoicing", ANNA)["data"] == {"invoices": []}
    bad = system["registration"].get("/api/v1/privacy/export", params={"email": "ingen adress"}, headers=AUTH)
    assert bad.status_code == 422 and "e-postadress" in bad.json()["detail"]
    actions = [(e.action, e.subject) for e in rows(system.database_urls["notifications"], AuditEntry)]
    assert ("person.export", person_subject(ANNA)) in actions


def test_erasing_a_contact_anonymises_them_everywhere_and_leaves_others_alone(system: System) -> None:
    sign_up_and_wait(system)
    system.create_user("sara", "staff")
    client = system["registration"]
    assert login(client, "sara", PASSWORD).status_code == 303
    page = client.get("/staff/privacy", params={"email": ANNA})
    assert page.status_code == 200 and "Anna Andersson" in page.text
    assert f"http://127.0.0.1:8001/api/v1/privacy/export?email={ANNA.replace('@', '%40')}" in page.text
    token = csrf_of(page.text)
    unconfirmed = client.post("/staff/privacy/erase", data={"csrf_token": token, "email": ANNA})
    assert unconfirmed.status_code == 422 and "begärt radering" in unconfirmed.text
    assert export(system, "registration", ANNA)["data"]["signups"], "nothing changed"

    done = client.post("/staff/privacy/erase", data={"csrf_token": token, "email": ANNA, "confirm": "yes"})
    assert done.status_code == 200 and "signups: 1 raderade" in done.text

    after = export(system, "registration", ANNA)["data"]
    assert set(after) == {"signups", "organisations", "contacts", "meeting_participants"}
    assert all(rows == [] for rows in after.values()), after
    eventually(lambda: all(rows == [] for rows in export(system, "notifications", ANNA)["data"].values()),
               "notifications erased")
    erased = [e for e in rows(system.database_urls["notifications"], Email) if e.kind == "signup_confirmation"
              and e.recipient.endswith("@raderad.invalid")]
    assert len(erased) == 1 and erased[0].raw == b"" and "Anna" not in erased[0].subject
    signups = {s.org_number: s for s in rows(system.database_urls["registration"], Signup)}
    assert signups["5566778899"].contact_name == "(raderad)" and signups["5566778899"].contact_email == ""
    assert signups["5566778899"].invoice_email == INVOICES, "the invoice address is not Anna's"
    assert signups["2120000142"].contact_email == "bo@kommun.example", "others are left alone"
    assert export(system, "notifications", "bo@kommun.example")["data"]["emails"]
    for service in ("registration", "notifications", "invoicing"):
        def erasures(url: str = system.database_urls[service]) -> list[AuditEntry]:
            return [e for e in rows(url, AuditEntry) if e.action == "person.erase"]

        entry = eventually(erasures, f"the erasure audited in {service}")
        assert entry[0].actor == "sara" and entry[0].subject == person_subject(ANNA)
        assert ANNA not in entry[0].detail


def test_erasing_an_invoice_address_keeps_the_invoice_and_its_basis_for_seven_years(system: System) -> None:
    sign_up_and_wait(system)
    answer = system["registration"].post("/api/v1/privacy/erase", json={"email": INVOICES}, headers=AUTH)
    assert answer.status_code == 200
    report = answer.json()["registration"]
    assert report["signups"]["kept"] == 1 and "Bokföringslagen" in report["signups"]["kept_because"]
    assert report["organisations"]["kept"] == 1
    [invoice] = export(system, "invoicing", INVOICES)["data"]["invoices"]
    assert invoice["buyer_email"] == INVOICES, "the issued invoice is never edited"
    eventually(lambda: export(system, "notifications", INVOICES)["data"]["emails"] == [],
               "the invoice email anonymised in the email log")
    kept = eventually(lambda: [e for e in rows(system.database_urls["invoicing"], AuditEntry)
                               if e.action == "person.erase"], "invoicing's audit")
    assert "invoices: 0 raderade, 1 sparade" in kept[0].detail and "Bokföringslagen" in kept[0].detail


def test_erasure_covers_meeting_contacts_and_participants(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as client:
        sign_up_member(client, "556677-8899", ["rus"], contact=ANNA)
        meeting = schedule(client, outside_weeks_reason="inga veckor")
        [contact] = contact_ids(database_url, ANNA)
        link = signup_link(meeting["id"], contact)
        page = client.get(link)
        answer = client.post(link, data={"csrf_token": csrf_of(page.text), "name": "Anna Andersson",
                                         "email": ANNA, "organisation": "Region Exempel",
                                         "dietary": "Glutenfri"})
        assert answer.status_code == 200, answer.text
        held = client.get("/api/v1/privacy/export", params={"email": ANNA}, headers=MEETINGS_AUTH).json()
        assert [c["contact_id"] for c in held["data"]["contacts"]] == [contact]
        assert held["data"]["meeting_participants"][0]["dietary"] == "Glutenfri"

        erased = client.post("/api/v1/privacy/erase", json={"email": ANNA}, headers=MEETINGS_AUTH)
        assert erased.status_code == 200
        report = erased.json()["registration"]
        assert report["contacts"]["erased"] == 1 and report["meeting_participants"]["erased"] == 1
        after = client.get("/api/v1/privacy/export", params={"email": ANNA}, headers=MEETINGS_AUTH).json()
        assert all(rows == [] for rows in after["data"].values())
        [listed] = client.get(f"/api/v1/meetings/{meeting['id']}/participants",
                              headers=MEETINGS_AUTH).json()
        assert listed["email"].endswith("@raderad.invalid") and "Anna" not in str(listed)


def tables_naming(database_url: str, address: str) -> list[str]:
    """``table.column`` for every cell in the database that contains ``address`` (case-insensitive)."""
    engine = make_engine(database_url)
    found = []
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(table.select()).mappings():
                    for column, value in row.items():
                        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        if address in text.lower():
                            found.append(f"{table.name}.{column}")
    finally:
        engine.dispose()
    return sorted(set(found))


def naming(system: System, address: str) -> dict[str, list[str]]:
    async def scan() -> list[str]:
        redis = Redis.from_url(system.redis_url)
        try:
            return await keys_naming(redis, address)
        finally:
            await redis.aclose()

    found = {service: tables_naming(url, address) for service, url in system.database_urls.items()}
    found["redis"] = asyncio.run(scan())
    return {where: hits for where, hits in found.items() if hits}


async def dead_letter_naming(redis_url: str, address: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        body = f'{{"type": "signup.completed", "contact": {{"email": "{address.upper()}"}}}}'
        payload = await wire.encode(body, message_id="11111111-1111-1111-1111-111111111111",
                                    correlation_id="dead")
        await record_dead_letter(redis, stream=REGISTRATION_STREAM, group="invoicing", entry_id="1-1",
                                 payload=payload, error="ValueError: odd")
    finally:
        await redis.aclose()


async def test_erasure_removes_the_dead_letters_naming_the_address_of_any_service_and_keeps_the_rest(
        redis_server: RedisServer) -> None:
    await dead_letter_naming(redis_server.url, ANNA)
    await dead_letter_naming(redis_server.url, "bo@kommun.example")
    redis = Redis.from_url(redis_server.url)
    try:
        await record_dead_letter(redis, stream=INVOICING_STREAM, group="notifications", entry_id="2-1",
                                 payload=b'{"organisation": {"invoice_email": "Anna@Region.example"}}',
                                 error="KeyError")
        assert await forget_dead_letters(redis, ANNA) == 2
        left = [*await DeadLetterStore(redis, "invoicing").letters(),
                *await DeadLetterStore(redis, "notifications").letters()]
        assert [(letter.stream, b"bo@kommun.example" in letter.payload.lower()) for letter in left] == [
            (REGISTRATION_STREAM, True)]
        assert await forget_dead_letters(redis, ANNA) == 0
    finally:
        await redis.aclose()


async def trim_all(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        for stream in ALL_STREAMS:
            await trim_stream(redis, stream, keep_seconds=0)
    finally:
        await redis.aclose()


def test_after_erasure_and_retention_the_address_is_in_no_table_and_no_stream(system: System) -> None:
    sign_up_and_wait(system)
    asyncio.run(dead_letter_naming(system.redis_url, ANNA))
    before = naming(system, ANNA)
    assert "outbox.payload" in before["registration"] and "notifications" in before
    assert before["redis"] == [REGISTRATION_STREAM, REGISTRATION_STREAM + ".dead-letters"]

    answer = system["registration"].post("/api/v1/privacy/erase", json={"email": ANNA}, headers=AUTH)
    assert answer.status_code == 200
    report = answer.json()["registration"]
    assert report["dead_letters"]["erased"] == 1 and report["outbox"]["erased"] >= 1
    for service in ("invoicing", "notifications"):
        def erased(url: str = system.database_urls[service]) -> list[AuditEntry]:
            return [e for e in rows(url, AuditEntry) if e.action == "person.erase"]

        eventually(erased, f"{service} erased")

    # Until retention: only person.erased itself (registration's outbox row, the stream entry, which
    # must name the address for the services to find the data) and the stream's older entries.
    after = naming(system, ANNA)
    assert after == {"registration": ["outbox.payload"], "redis": [REGISTRATION_STREAM]}, after
    assert [row.type for row in rows(system.database_urls["registration"], OutboxMessage)
            if ANNA in row.payload.lower()] == ["person.erased"]

    for url in system.database_urls.values():
        engine = make_engine(url)
        prune_published(engine, now=utc_now() + timedelta(days=7, seconds=1), keep_days=7)
        engine.dispose()
    asyncio.run(trim_all(system.redis_url))
    assert naming(system, ANNA) == {}, "nothing outlives OUTBOX_RETENTION_DAYS and STREAM_RETENTION_DAYS"
