"""Staff cancel a membership and set its renewal opt-out, by API and by page (real Redis, both databases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from shared.audit import AuditEntry
from shared.db import make_engine
from shared.events import MembershipCancelled
from shared.settings import DEV_TOKEN
from tests.support.invoicing import wait_for
from tests.support.registration import REGISTRATION_STREAM, csrf_of, registration_client, signup_body
from tests.support.servers import RedisServer
from tests.support.streams import read_events

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    with registration_client(database_url, redis_server.url) as test_client:
        yield test_client


def cancellations(client: TestClient) -> list[MembershipCancelled]:
    url = client.app.state.runtime.settings.redis_url  # type: ignore[attr-defined]
    return [e for e in read_events(url, REGISTRATION_STREAM) if isinstance(e, MembershipCancelled)]


def audit(client: TestClient, membership_id: int) -> list[AuditEntry]:
    engine = make_engine(client.app.state.runtime.settings.database_url)  # type: ignore[attr-defined]
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEntry)
                                     .where(AuditEntry.subject == f"membership:{membership_id}")
                                     .order_by(col(AuditEntry.id))))
    finally:
        engine.dispose()


def sign_up(client: TestClient, networks: list[str]) -> dict[str, int]:
    response = client.post("/api/v1/signups", json=signup_body(networks=networks))
    assert response.status_code == 201, response.text
    return {m["network"]: m["id"] for m in response.json()["memberships"]}


def test_cancelling_through_the_api_publishes_membership_cancelled_once(client: TestClient) -> None:
    ids = sign_up(client, ["rus", "ung-region"])

    first = client.post(f"/api/v1/memberships/{ids['rus']}/cancel", headers=AUTH,
                        json={"reason": "  Lämnar   nätverket "})
    assert first.status_code == 200, first.text
    assert first.json()["changed"] is True
    assert first.json()["membership"] | {"id": 0, "organisation_id": 0} == {
        "id": 0, "network": "rus", "network_name": "RUS-nätverket", "year": 2018, "status": "cancelled",
        "organisation_id": 0, "organisation_name": "Region Exempel", "org_number": "5566778899",
        "renewal_opt_out": False, "cancellation_reason": "Lämnar nätverket"}

    [event] = wait_for(lambda: cancellations(client), what="membership.cancelled on the stream")
    assert (event.membership_id, event.network_code, event.year, event.reason, event.cancelled_by) == (
        ids["rus"], "rus", 2018, "Lämnar nätverket", "api-token")
    assert event.organisation.org_number == "5566778899"
    assert event.organisation.invoice_email == "faktura@region.example"

    again = client.post(f"/api/v1/memberships/{ids['rus']}/cancel", headers=AUTH, json={"reason": "Igen"})
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["membership"]["cancellation_reason"] == "Lämnar nätverket"
    other = client.get(f"/api/v1/memberships/{ids['ung-region']}", headers=AUTH).json()
    assert other["status"] == "active", "only the cancelled network"
    wait_for(lambda: len(read_events(client.app.state.runtime.settings.redis_url,  # type: ignore[attr-defined]
                                     REGISTRATION_STREAM)) == 2, what="the sign-up and one cancellation")
    assert len(cancellations(client)) == 1, "cancelling twice publishes nothing more"
    assert [(a.action, a.actor) for a in audit(client, ids["rus"])] == [("membership.cancel", "api-token")]


def test_bad_cancellations_are_refused_clearly_and_change_nothing(client: TestClient) -> None:
    ids = sign_up(client, ["rus"])
    assert client.post(f"/api/v1/memberships/{ids['rus']}/cancel").status_code == 401
    missing = client.post("/api/v1/memberships/999999/cancel", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "Medlemskapet 999999 finns inte."
    too_long = client.post(f"/api/v1/memberships/{ids['rus']}/cancel", headers=AUTH,
                           json={"reason": "x" * 301})
    assert too_long.status_code == 422 and "högst 300 tecken" in too_long.json()["detail"]
    assert client.get(f"/api/v1/memberships/{ids['rus']}", headers=AUTH).json()["status"] == "active"
    assert audit(client, ids["rus"]) == []


def test_the_renewal_opt_out_is_set_and_cleared_through_the_api(client: TestClient) -> None:
    ids = sign_up(client, ["rus"])
    url = f"/api/v1/memberships/{ids['rus']}/renewal-opt-out"
    assert client.put(url, headers=AUTH, json={"opt_out": True}).json()["changed"] is True
    again = client.put(url, headers=AUTH, json={"opt_out": True}).json()
    assert again["changed"] is False and again["membership"]["renewal_opt_out"] is True
    listed = client.get("/api/v1/memberships", headers=AUTH, params={"org_number": "556677-8899"}).json()
    assert [(m["network"], m["renewal_opt_out"]) for m in listed] == [("rus", True)]
    cleared = client.put(url, headers=AUTH, json={"opt_out": False}).json()
    assert cleared["membership"]["renewal_opt_out"] is False
    assert [a.action for a in audit(client, ids["rus"])] == ["membership.renewal_opt_out",
                                                              "membership.renewal_opt_in"]


def test_staff_cancel_on_the_membership_page_with_a_csrf_protected_form(client: TestClient) -> None:
    ids = sign_up(client, ["rus", "integration"])
    page = f"/staff/memberships/{ids['rus']}"
    assert client.get(page).status_code == 303, "a login first"
    form = client.get("/login")
    client.post("/login", data={"username": "admin", "password": DEV_TOKEN, "csrf_token": csrf_of(form.text),
                                "next": "/"})
    listing = client.get("/staff/memberships", params={"year": "2018"})
    assert listing.status_code == 200 and f'id="membership-{ids["rus"]}"' in listing.text

    shown = client.get(page)
    assert shown.status_code == 200 and 'id="cancel-form"' in shown.text
    forged = client.post(f"{page}/cancel", data={"csrf_token": "forged", "reason": "x"})
    assert forged.status_code == 400
    assert client.get(f"/api/v1/memberships/{ids['rus']}", headers=AUTH).json()["status"] == "active"

    opted = client.post(f"{page}/renewal", data={"csrf_token": csrf_of(shown.text), "opt_out": "1"})
    assert opted.status_code == 303 and opted.headers["location"] == f"{page}?notice=opted_out"
    done = client.post(f"{page}/cancel", data={"csrf_token": csrf_of(shown.text), "reason": "Slutar"})
    assert done.status_code == 303 and done.headers["location"] == f"{page}?notice=cancelled"
    after = client.get(done.headers["location"])
    assert "Medlemskapet är avslutat" in after.text and 'id="cancel-form"' not in after.text
    assert "membership.cancel" in after.text and "Slutar" in after.text, "the audit log is on the page"
    [event] = wait_for(lambda: cancellations(client), what="membership.cancelled")
    assert event.cancelled_by == "admin"
    overview = client.get("/staff/signups").text
    assert overview.count('<span class="badge failed">Avslutat</span>') == 1, "the overview marks it"
    assert f'href="/staff/memberships/{ids["rus"]}"' in overview
