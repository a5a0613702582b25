"""The sign-up web form, its receipt and the staff overview, on SQLite and PostgreSQL with real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.registration.validation import BAD_EMAIL
from tests.support.registration import (
    csrf_of,
    element,
    form_data,
    registration_client,
    row_counts,
    text_of,
    wait_for_events,
)
from tests.support.servers import RedisServer


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    with registration_client(database_url, redis_server.url) as test_client:
        yield test_client


def open_form(client: TestClient) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return csrf_of(page.text)


def test_the_form_offers_the_active_networks_with_their_fee_or_exemption(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "reglab_csrf" in page.cookies
    html = page.text
    assert "4 000 kr" in text_of(html, "network-row-rus")
    assert "RUS-nätverket" in text_of(html, "network-row-rus")
    analytiker = text_of(html, "network-row-analytiker")
    assert analytiker.endswith("Avgiftsfri Samarrangemang med andra organisationer")
    assert "Marginell verksamhet" in text_of(html, "network-row-smart-specialisering")
    assert "Kompetensförsörjningsnätverket" in text_of(html, "network-row-kompetensforsorjning")
    rows = [code for code in ("analytiker", "kompetensforsorjning", "utvardering", "smart-specialisering",
                              "ung-region", "rus", "fysisk-planering", "integration")
            if element(html, f"network-{code}").attrs["type"] == "checkbox"]
    assert len(rows) == 8
    assert 'id="network-kommunikation"' not in html, "proposed networks cannot be chosen"
    assert "Näringslivsutveckling" in html  # but they are mentioned
    assert text_of(html, "year") == "2018"
    assert element(html, "website").attrs["tabindex"] == "-1"


def test_a_year_without_a_policy_is_refused_with_a_clear_message(client: TestClient) -> None:
    html = client.get("/", params={"year": "2030"}).text
    assert "ingen avgiftspolicy för 2030" in text_of(html, "error-year")


def test_a_post_without_the_csrf_token_is_rejected_and_nothing_stored(
        client: TestClient, database_url: str) -> None:
    open_form(client)
    answer = client.post("/", data=form_data(csrf="forged"))
    assert answer.status_code == 400
    assert "Formuläret har gått ut" in text_of(answer.text, "form-alert")
    assert element(answer.text, "org_name").attrs["value"] == "Region Exempel", "what was typed is kept"
    client.cookies.clear()
    assert client.post("/", data=form_data(csrf="forged")).status_code == 400
    assert set(row_counts(database_url).values()) == {0}


def test_a_filled_honeypot_stores_nothing(client: TestClient, database_url: str) -> None:
    answer = client.post("/", data=form_data(open_form(client), website="http://spam.example"))
    assert answer.status_code == 400
    assert set(row_counts(database_url).values()) == {0}


def test_errors_are_shown_beside_their_fields_and_what_was_typed_is_kept(
        client: TestClient, database_url: str) -> None:
    answer = client.post("/", data=form_data(open_form(client), org_number="556677-8898",
                                             contact_email="anna@", networks=[]))
    assert answer.status_code == 422
    html = answer.text
    assert text_of(html, "error-org_number").startswith("Ogiltigt organisationsnummer")
    assert "Ogiltigt organisationsnummer" in text_of(html, "field-org_number")
    assert "has-error" in str(element(html, "field-org_number").attrs["class"])
    assert text_of(html, "error-contact_email") == BAD_EMAIL
    assert text_of(html, "error-networks") == "Välj minst ett nätverk."
    assert element(html, "org_number").attrs["value"] == "556677-8898"
    assert element(html, "org_name").attrs["value"] == "Region Exempel"
    assert element(html, "city").attrs["value"] == "Stockholm"
    assert "error-city" not in html
    assert set(row_counts(database_url).values()) == {0}


def test_chosen_networks_stay_checked_after_an_error(client: TestClient) -> None:
    html = client.post("/", data=form_data(open_form(client), org_name="", networks=["rus"])).text
    assert "checked" in element(html, "network-rus").attrs
    assert "checked" not in element(html, "network-ung-region").attrs


def test_a_signup_redirects_to_its_receipt_with_memberships_and_the_fee_due(
        client: TestClient, redis_server: RedisServer) -> None:
    answer = client.post("/", data=form_data(open_form(client), networks=["rus", "ung-region", "analytiker"]))
    assert answer.status_code == 303
    receipt_url = answer.headers["location"]
    assert receipt_url.startswith("/kvitto/") and len(receipt_url) > len("/kvitto/") + 20

    html = client.get(receipt_url).text
    assert text_of(html, "membership-rus") == "RUS-nätverket 2018 Ny 4 000,00 kr"
    assert text_of(html, "membership-analytiker") == (
        "Analytikernätverket 2018 Ny Avgiftsfri Samarrangemang med andra organisationer")
    assert text_of(html, "fee-net") == "8 000,00 kr"
    assert text_of(html, "fee-vat") == "2 000,00 kr"
    assert text_of(html, "fee-total") == "10 000,00 kr"
    assert "Moms 25 %" in text_of(html, "memberships")
    assert text_of(html, "receipt-org-number") == "212000-0142"

    [event] = wait_for_events(redis_server.url, 1)
    assert event.organisation.org_number == "2120000142"
    assert [m.network_code for m in event.memberships] == ["rus", "ung-region", "analytiker"]


def test_signing_up_again_for_the_same_membership_costs_nothing_more(client: TestClient) -> None:
    client.post("/", data=form_data(open_form(client), networks=["rus"]))
    answer = client.post("/", data=form_data(open_form(client), org_number="2120000142", networks=["rus"]))
    html = client.get(answer.headers["location"]).text
    assert text_of(html, "membership-rus") == "RUS-nätverket 2018 Redan anmäld Ingen ny avgift"
    assert text_of(html, "fee-total") == "0,00 kr"
    assert "Ingen avgift att betala" in html


def test_an_unknown_receipt_is_not_found(client: TestClient) -> None:
    assert client.get("/kvitto/gissat").status_code == 404


def test_staff_see_memberships_per_network_and_year_after_logging_in(client: TestClient) -> None:
    client.post("/", data=form_data(open_form(client), networks=["rus"]))
    answer = client.get("/staff/signups")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")

    login_page = client.get("/login")
    logged_in = client.post("/login", data={"csrf_token": csrf_of(login_page.text), "next": "/staff/signups",
                                            "username": "admin", "password": "dev-token-change-me"})
    assert logged_in.status_code == 303
    html = client.get("/staff/signups").text
    assert "RUS-nätverket" in html and "Region Exempel" in html and "212000-0142" in html
