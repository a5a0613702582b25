"""Hostile input at the door: CSRF on every form, rate limits, the body limit, the honeypot, the headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devtools.routes import all_decisions
from services.notifications.previews import PREVIEWS
from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared.links import sign_link
from tests.security.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    API_TOKEN,
    SECRET_KEY,
    System,
    common,
    csrf_of,
    login,
    running_system,
    with_session,
)
from tests.security.test_privacy import eventually
from tests.security.test_route_walk import concrete
from tests.support.meetings import AUTH as MEETINGS_AUTH
from tests.support.meetings import (
    cancel_link,
    contact_ids,
    meeting_body,
    meetings_client,
    outbox_types,
    schedule,
    sign_up_member,
    signup_link,
)
from tests.support.registration import form_data, registration_client, row_counts, signup_body
from tests.support.servers import RedisServer, SmtpServer

# Logout needs no token: the session cookie is SameSite=Lax, so a cross-site POST carries no session.
NO_CSRF_NEEDED = {"POST /logout"}


def post_forms() -> list[tuple[str, str]]:
    """Every HTML form target: POST routes that are pages or public, and not the JSON API."""
    return sorted({(d.service, d.path) for d in all_decisions()
                   if d.method == "POST" and not d.path.startswith("/api/")
                   and f"POST {d.path}" not in NO_CSRF_NEEDED})


def test_every_post_form_of_every_service_refuses_a_request_without_the_csrf_token(
        sqlite_system: System) -> None:
    forms = post_forms()
    assert ("registration", "/") in forms and ("registration", "/login") in forms
    assert ("registration", "/admin/users") in forms
    assert ("notifications", "/emails/{email_id}/send-again") in forms
    session = sqlite_system.session_for(ADMIN)
    for service, path in forms:
        client = sqlite_system[service]
        client.cookies.clear()
        with_session(client, session)
        client.get("/login")  # the browser has a CSRF cookie, but the forged form has no field
        answer = client.post(concrete(path), data={"username": ADMIN, "password": ADMIN_PASSWORD,
                                                   "action": "create", "name": "mallory", "role": "admin",
                                                   "password2": "x"})
        assert answer.status_code == 400, f"{service} {path}: {answer.status_code}"
        if "{token}" not in path:
            # (An emailed link's form checks its signed token first, so a made-up one is refused
            # before its handler's CSRF check: still a 400, and nothing changes.)
            assert "Formuläret har gått ut" in answer.text, f"{service} {path}"
        wrong = client.post(concrete(path), data={"csrf_token": "forged-token", "action": "create",
                                                  "name": "mallory", "role": "admin"})
        assert wrong.status_code == 400, f"{service} {path} with a wrong token: {wrong.status_code}"
    assert sqlite_system.run(lambda store: store.list_users()) == []


def test_cancelling_a_meeting_place_under_a_valid_link_without_the_csrf_token_is_refused_and_changes_nothing(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    with meetings_client(database_url, redis_server.url, tmp_path / "clock") as client:
        sign_up_member(client, "556677-8899", ["rus"])
        meeting = schedule(client, outside_weeks_reason="inga veckor")
        link = signup_link(meeting["id"], contact_ids(database_url, "anna@region.example")[0])
        form = client.get(link)
        assert client.post(link, data={"csrf_token": csrf_of(form.text), "name": "Anna",
                                       "email": "anna@region.example", "organisation": "Region Exempel",
                                       "dietary": ""}).status_code == 200
        participants = f"/api/v1/meetings/{meeting['id']}/participants"
        [anna] = client.get(participants, headers=MEETINGS_AUTH).json()
        cancel = cancel_link(anna["id"])
        assert client.get(cancel).status_code == 200, "the link is valid"

        for forged in ({}, {"csrf_token": "forged-token"}):
            answer = client.post(cancel, data=forged)
            assert answer.status_code == 400 and "Formuläret har gått ut" in answer.text, forged
        assert [p["status"] for p in client.get(participants, headers=MEETINGS_AUTH).json()] == ["registered"]
        assert "participant.cancelled" not in [kind for kind, _c in outbox_types(database_url)]


def limited_client(redis_server: RedisServer, tmp_path: Path, **extra: object) -> TestClient:
    settings = RegistrationSettings(**common(f"sqlite:///{tmp_path}/registration.db", redis_server.url,
                                             **extra))
    return TestClient(create_app(settings), follow_redirects=False)


def test_sign_ups_by_form_and_api_share_one_limit_per_address_with_a_swedish_429(
        redis_server: RedisServer, tmp_path: Path) -> None:
    with limited_client(redis_server, tmp_path, signup_rate_limit=3,
                        signup_rate_window_seconds=300) as client:
        assert client.post("/api/v1/signups", json=signup_body("556677-8899")).status_code == 201
        assert client.post("/api/v1/signups", json=signup_body("2120000142")).status_code == 201
        token = csrf_of(client.get("/").text)
        assert client.post("/", data=form_data(token)).status_code == 303
        counts = row_counts(f"sqlite:///{tmp_path}/registration.db")

        api = client.post("/api/v1/signups", json=signup_body("2321000016"))
        assert api.status_code == 429 and "För många försök från din adress" in api.json()["detail"]
        assert 0 < int(api.headers["retry-after"]) <= 300
        form = client.post("/", data=form_data(csrf_of(client.get("/").text)))
        assert form.status_code == 429 and "För många försök" in form.text and form.headers["retry-after"]
        assert "Region" in form.text, "what was typed is kept"
        assert row_counts(f"sqlite:///{tmp_path}/registration.db") == counts, "nothing stored"


def test_sign_ups_fail_open_when_the_rate_limiter_cannot_reach_redis(
        redis_server: RedisServer, tmp_path: Path) -> None:
    with limited_client(redis_server, tmp_path, signup_rate_limit=1) as client:
        assert client.post("/api/v1/signups", json=signup_body("556677-8899")).status_code == 201
        redis_server.kill()
        answer = client.post("/api/v1/signups", json=signup_body("2120000142"))
        assert answer.status_code == 201, "a limiter that is down does not turn organisations away"


def test_a_login_fails_closed_when_redis_is_down(redis_server: RedisServer, tmp_path: Path) -> None:
    with limited_client(redis_server, tmp_path) as client:
        token = csrf_of(client.get("/login").text)
        redis_server.kill()
        answer = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD,
                                             "csrf_token": token, "next": "/"})
        assert answer.status_code == 503 and "går inte att nå" in answer.text
        client.cookies.set("reglab_session", "some-session-id")
        assert client.get("/staff/signups").status_code == 503, "a session cannot be checked: refused"


def test_a_body_over_the_limit_is_refused_with_413_except_on_the_upload_paths(
        redis_server: RedisServer, tmp_path: Path) -> None:
    with limited_client(redis_server, tmp_path, max_body_bytes=10_000, max_upload_bytes=100_000,
                        upload_paths=["/payments/import"]) as client:
        big = client.post("/api/v1/signups", content=b"{" + b" " * 20_000 + b"}",
                          headers={"content-type": "application/json"})
        assert big.status_code == 413 and "för stor" in big.json()["detail"]
        assert "frame-ancestors 'none'" in big.headers["content-security-policy"]
        form = client.post("/", data={"organisation_name": "x" * 20_000})
        assert form.status_code == 413

        def chunks() -> object:
            for _ in range(30):
                yield b" " * 1000

        streamed = client.post("/", content=chunks(),  # type: ignore[arg-type]
                               headers={"content-type": "application/x-www-form-urlencoded"})
        assert streamed.status_code == 413, "a chunked body is counted as it arrives"
        upload = client.post("/payments/import", content=b"x" * 50_000)
        assert upload.status_code != 413, "the upload path allows MAX_UPLOAD_BYTES"
        assert client.post("/payments/import", content=b"x" * 150_000).status_code == 413
        assert row_counts(f"sqlite:///{tmp_path}/registration.db")["reg_signup"] == 0


def test_the_honeypot_field_refuses_a_bot_and_stores_nothing(redis_server: RedisServer,
                                                             tmp_path: Path) -> None:
    with limited_client(redis_server, tmp_path) as client:
        token = csrf_of(client.get("/").text)
        bot = client.post("/", data={**form_data(token), "website": "http://spam.example"})
        assert bot.status_code == 400 and "Anmälan kunde inte tas emot" in bot.text
        assert row_counts(f"sqlite:///{tmp_path}/registration.db")["reg_signup"] == 0
        human = client.post("/", data=form_data(token))
        assert human.status_code == 303


@pytest.mark.parametrize("service", ["registration", "invoicing", "notifications"])
def test_every_service_sends_the_security_headers_on_pages_errors_and_apis(
        sqlite_system: System, service: str) -> None:
    client = sqlite_system[service]
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
    for path in ("/", "/login", "/healthz", "/no-such-page", "/admin/audit", "/dead-letters",
                 "/api/v1/dead-letters", "/static/style.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
        assert headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize("service", ["registration", "invoicing", "notifications"])
def test_the_api_is_described_at_openapi_json_and_the_docs_pages_the_csp_would_break_are_off(
        sqlite_system: System, service: str) -> None:
    client = sqlite_system[service]
    description = client.get("/openapi.json")
    assert description.status_code == 200 and description.json()["paths"]
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path


def assert_no_inline_script_or_style(html: str, where: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {where}"
    assert not re.search(r"\s(style|on[a-z]+)\s*=", html), f"inline style or handler on {where}"


def test_no_page_carries_inline_script_or_style_that_the_csp_would_block(sqlite_system: System) -> None:
    """CSP without 'unsafe-inline': an inline script or style attribute would silently not work."""
    session = sqlite_system.session_for(ADMIN)
    pages = sorted({(d.service, d.path) for d in all_decisions()
                    if d.method == "GET" and d.kind in ("page", "public") and "{" not in d.path
                    and not d.path.startswith(("/api/", "/openapi", "/metrics", "/healthz"))})
    assert len(pages) >= 10
    for service, path in pages:
        client = sqlite_system[service]
        with_session(client, session)
        assert_no_inline_script_or_style(client.get(path).text, f"{service} {path}")


def seeded_path_values(system: System) -> dict[str, list[str]]:
    """Real values for every path parameter of a page: a sign-up, its invoice, a meeting and its links."""
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    registration = system["registration"]
    body = signup_body("556677-8899", networks=["rus"])
    body["contact"] = {"name": "Anna", "email": "anna@region.example"}
    signed_up = registration.post("/api/v1/signups", json=body)
    assert signed_up.status_code == 201, signed_up.text
    meeting = registration.post("/api/v1/meetings", json=meeting_body(outside_weeks_reason="inga veckor"),
                                headers=auth).json()
    contact = contact_ids(system.database_urls["registration"], "anna@region.example")[0]
    deadline = datetime(2018, 1, 31, 23, 59, tzinfo=UTC)
    join = "/moten/anmalan/" + sign_link(SECRET_KEY, "meeting-signup", {"m": meeting["id"], "c": contact},
                                         deadline)
    form = registration.get(join)
    assert registration.post(join, data={"csrf_token": csrf_of(form.text), "name": "Anna",
                                         "organisation": "R", "email": "anna@region.example",
                                         "dietary": ""}).status_code == 200
    [participant] = registration.get(f"/api/v1/meetings/{meeting['id']}/participants", headers=auth).json()
    starts = datetime(2018, 2, 7, 9, tzinfo=UTC)
    invoices = eventually(
        lambda: system["invoicing"].get("/api/v1/invoices", headers=auth).json(), "the invoice")
    return {
        "/kvitto/{token}": [signed_up.json()["receipt_url"].rsplit("/", 1)[1]],
        "/staff/memberships/{membership_id}": [str(signed_up.json()["memberships"][0]["id"])],
        "/moten/anmalan/{token}": [join.rsplit("/", 1)[1]],
        "/moten/avboka/{token}": [sign_link(SECRET_KEY, "meeting-cancel", {"p": participant["id"]}, starts)],
        "/avregistrera/{token}": [sign_link(SECRET_KEY, "unsubscribe", {"c": contact}, starts)],
        "/staff/moten/{meeting_id}": [str(meeting["id"])],
        "/staff/moten/{meeting_id}/deltagare.csv": [str(meeting["id"])],
        "/staff/organisationer/{organisation_id}": [str(signed_up.json()["organisation_id"])],
        "/invoices/{number}/reissue": [invoices[0]["number"]],
        "/invoices/{number}.pdf": [invoices[0]["number"]],
        "/invoices/{number}": [invoices[0]["number"]],
        "/exports/{name}": ["fakturor.csv", "fakturarader.csv", "okand.csv"],
        "/templates/{name}": sorted(PREVIEWS),
    }


def test_no_page_with_path_parameters_carries_inline_script_or_style(
        redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    """The same as above for the pages behind ids and signed links, with real ones from seeded data."""
    clock = tmp_path / "clock"
    clock.write_text(datetime(2018, 1, 15, 9, tzinfo=UTC).isoformat(), encoding="utf-8")
    with running_system(f"sqlite:///{tmp_path}/x.db", redis_server, smtp_server, tmp_path,
                        clock_file=clock) as system:
        values = seeded_path_values(system)
        pages = [(d.service, d.path) for d in all_decisions()
                 if d.method == "GET" and d.kind in ("page", "public") and "{" in d.path]
        assert {path for _service, path in pages} == set(values), "a new page needs a real value here"
        session = system.session_for(ADMIN)
        html_pages = 0
        for service, path in pages:
            client = system[service]
            with_session(client, session)
            for value in values[path]:
                concrete_path = re.sub(r"\{[^}]+\}", value, path)
                answer = client.get(concrete_path)
                assert answer.status_code == (404 if value == "okand.csv" else 200), concrete_path
                if answer.headers["content-type"].startswith("text/html"):
                    html_pages += 1
                    assert_no_inline_script_or_style(answer.text, f"{service} {concrete_path}")
        assert html_pages >= 10 + len(PREVIEWS)


@pytest.mark.parametrize("bad", ["Region\x00Exempel", "Region\r\nBcc: x@y.example", "Region\x1bExempel"])
def test_control_characters_in_sign_up_text_get_a_swedish_message_on_both_databases(
        database_url: str, redis_server: RedisServer, bad: str) -> None:
    with registration_client(database_url, redis_server.url) as client:
        answer = client.post("/api/v1/signups", json=signup_body("556677-8899", name=bad))
        assert answer.status_code == 422
        assert "otillåtna tecken" in answer.json()["errors"]["organisation.name"]
        token = csrf_of(client.get("/").text)
        form = client.post("/", data=form_data(token, contact_name=bad))
        assert form.status_code == 422 and "otillåtna tecken" in form.text
        assert row_counts(database_url)["reg_signup"] == 0


def test_a_privacy_export_for_an_address_with_a_nul_is_a_422_not_a_database_error(system: System) -> None:
    for service in ("registration", "invoicing", "notifications"):
        answer = system[service].get("/api/v1/privacy/export", params={"email": "a\x00b@x.example"},
                                     headers={"Authorization": f"Bearer {API_TOKEN}"})
        assert answer.status_code == 422, service
