"""The registration JSON API on a real database (SQLite and PostgreSQL) and a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shared.events import SignupCompleted
from tests.support.registration import (
    REGISTRATION_STREAM,
    registration_client,
    row_counts,
    signup_body,
    wait_for_events,
)
from tests.support.servers import RedisServer
from tests.support.streams import read_events, read_headers


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    with registration_client(database_url, redis_server.url) as test_client:
        yield test_client


def test_networks_are_listed_with_their_fee_or_exemption(client: TestClient) -> None:
    networks = {n["code"]: n for n in client.get("/api/v1/networks").json()}
    assert len(networks) == 10
    assert networks["kompetensforsorjning"]["name"] == "Kompetensförsörjningsnätverket"
    assert networks["analytiker"]["fee_exempt"] is True
    assert networks["analytiker"]["exemption_reason"] == "Samarrangemang med andra organisationer"
    assert networks["smart-specialisering"]["exemption_reason"] == "Marginell verksamhet"
    assert networks["rus"] | {"description": ""} == {
        "code": "rus", "name": "RUS-nätverket", "status": "active", "fee_exempt": False,
        "exemption_reason": "", "fee": "4000.00", "year": 2018, "partners": "", "description": "",
    }
    assert networks["kommunikation"]["status"] == "proposed"
    assert networks["naringslivsutveckling"]["status"] == "proposed"


def test_networks_for_a_year_without_policy_is_a_clear_422(client: TestClient) -> None:
    answer = client.get("/api/v1/networks", params={"year": 2030})
    assert answer.status_code == 422
    assert "ingen avgiftspolicy för 2030" in answer.json()["errors"]["year"]


def test_a_valid_signup_is_stored_and_its_event_published_with_its_id_as_message_id(
        client: TestClient, database_url: str, redis_server: RedisServer) -> None:
    answer = client.post("/api/v1/signups", json=signup_body(), headers={"X-Request-ID": "req-123"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert [(m["network"], m["year"], m["status"], m["created"]) for m in body["memberships"]] == [
        ("rus", 2018, "active", True), ("analytiker", 2018, "active", True)]
    assert body["receipt_url"].startswith("/kvitto/")

    [event] = wait_for_events(redis_server.url, 1)
    [headers] = read_headers(redis_server.url, REGISTRATION_STREAM)
    assert isinstance(event, SignupCompleted)
    assert headers["message_id"] == str(event.event_id)
    assert event.correlation_id == "req-123"
    assert event.signup_id == body["signup_id"]
    assert event.organisation.id == body["organisation_id"]
    assert event.organisation.org_number == "5566778899"
    assert event.organisation.address.postal_code == "111 22"
    assert event.organisation.buyer_reference == "Anna Andersson"
    assert event.contact.email == "anna@region.example"
    rus, analytiker = event.memberships
    assert (rus.network_name, rus.created, rus.fee_exempt, str(rus.fee)) == (
        "RUS-nätverket", True, False, "4000.00")
    assert (analytiker.fee_exempt, analytiker.fee, analytiker.exemption_reason) == (
        True, None, "Samarrangemang med andra organisationer")
    assert [m.membership_id for m in event.memberships] == [m["id"] for m in body["memberships"]]

    counts = row_counts(database_url)
    assert counts["reg_organisation"] == 1 and counts["reg_membership"] == 2 and counts["outbox"] == 1

    receipt = client.get(body["receipt_url"])
    assert receipt.status_code == 200 and "RUS-nätverket" in receipt.text


def test_without_a_request_id_each_signup_gets_its_own_correlation_id(
        client: TestClient, redis_server: RedisServer) -> None:
    for number in ("556677-8899", "212000-0142"):
        assert client.post("/api/v1/signups", json=signup_body(number)).status_code == 201
    first, second = wait_for_events(redis_server.url, 2)
    assert first.correlation_id != second.correlation_id


def test_a_sign_up_without_the_buyers_reference_is_a_422_since_e_invoices_need_it(
        client: TestClient) -> None:
    body = signup_body()
    del body["organisation"]["buyer_reference"]
    answer = client.post("/api/v1/signups", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"] == {
        "organisation.buyer_reference": "Ange er referens (beställarens namn eller referenskod); "
                                        "den står på fakturan."}


def test_invalid_input_is_a_422_with_a_message_per_field_and_nothing_is_stored(
        client: TestClient, database_url: str, redis_server: RedisServer) -> None:
    body = signup_body("556677-8898", networks=["rus", "golf"], invoice_email="inte-en-adress")
    body["contact"] = {"name": ""}
    body["year"] = 2030
    answer = client.post("/api/v1/signups", json=body)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors == {
        "organisation.org_number": "Ogiltigt organisationsnummer: kontrollsiffran stämmer inte. "
                                   "Kontrollera numret.",
        "organisation.invoice_email": "Ogiltig e-postadress. Ange en adress som namn@organisation.se.",
        "contact.name": "Ange kontaktpersonens namn.",
        "contact.email": "Ange kontaktpersonens e-postadress.",
        "networks": "Okänt nätverk: golf.",
        "year": "Det finns ingen avgiftspolicy för 2030, så anmälan är inte öppen för det året. Välj 2018.",
    }
    assert answer.json()["detail"]

    time.sleep(0.5)  # give a wrongly staged event the relay's poll interval to show up
    assert read_events(redis_server.url, REGISTRATION_STREAM) == []
    assert set(row_counts(database_url).values()) == {0}


@pytest.mark.parametrize(("content", "status"), [(b"{not json", 400), (b"[1, 2]", 422), (b"\xff\xfe{", 400)])
def test_malformed_json_is_a_clear_client_error(client: TestClient, content: bytes, status: int) -> None:
    answer = client.post("/api/v1/signups", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == status
    assert answer.json()["detail"]


def test_a_body_that_is_not_declared_as_json_is_refused(client: TestClient, database_url: str) -> None:
    answer = client.post("/api/v1/signups", content=json.dumps(signup_body()),
                         headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert row_counts(database_url)["reg_signup"] == 0


def test_the_same_organisation_signing_up_again_is_one_organisation_with_the_latest_invoice_details(
        client: TestClient, database_url: str, redis_server: RedisServer) -> None:
    first = client.post("/api/v1/signups", json=signup_body("5566778899", networks=["rus"])).json()
    second = client.post("/api/v1/signups", json=signup_body(
        "556677-8899", networks=["ung-region"], invoice_email="ny@region.example")).json()
    assert first["organisation_id"] == second["organisation_id"]
    assert first["signup_id"] != second["signup_id"]
    counts = row_counts(database_url)
    assert counts["reg_organisation"] == 1 and counts["reg_signup"] == 2 and counts["reg_membership"] == 2
    _, event = wait_for_events(redis_server.url, 2)
    assert event.organisation.invoice_email == "ny@region.example"


def test_the_same_membership_twice_is_one_membership_and_the_second_event_says_not_created(
        client: TestClient, database_url: str, redis_server: RedisServer) -> None:
    first = client.post("/api/v1/signups", json=signup_body(networks=["rus"])).json()
    second = client.post("/api/v1/signups", json=signup_body(networks=["rus", "ung-region"])).json()
    assert second["memberships"][0] == first["memberships"][0] | {"created": False}
    assert second["memberships"][1]["created"] is True
    assert row_counts(database_url)["reg_membership"] == 2

    first_event, second_event = wait_for_events(redis_server.url, 2)
    assert [m.created for m in first_event.memberships] == [True]
    assert [(m.network_code, m.created) for m in second_event.memberships] == [
        ("rus", False), ("ung-region", True)]
    assert first_event.event_id != second_event.event_id


def test_the_openapi_schema_documents_the_signup_body_and_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/signups"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"organisation", "contact", "networks", "year"}
    assert "org_number" in body["properties"]["organisation"]["properties"]
    assert {"201", "400", "422"} <= set(operation["responses"])
    assert "/api/v1/networks" in schema["paths"]
    assert "/" not in schema["paths"], "HTML pages stay out of the API schema"
