"""Accounts, sessions and tokens across services: one login everywhere, and disabling ends it everywhere."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared import useradmin
from shared.accounts import AccountStore, sha256
from shared.audit import AuditEntry
from shared.db import make_engine
from shared.events import utc_now
from shared.web import SESSION_COOKIE
from tests.security.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    PASSWORD,
    System,
    common,
    csrf_of,
    login,
    running_system,
    with_session,
)
from tests.support.redis_dump import redis_dump
from tests.support.servers import POSTGRES_ADMIN_URL, RedisServer, SmtpServer


def audit_actions(database_url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
            return [(row.actor, row.action, row.subject) for row in rows]
    finally:
        engine.dispose()


def admin_act(system: System, expect: int = 200, **form: str) -> str:
    client = system["registration"]
    client.cookies.clear()
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
    token = csrf_of(client.get("/admin/users").text)
    response = client.post("/admin/users", data={"csrf_token": token, **form})
    assert response.status_code == expect, response.text
    return response.text


def test_a_user_the_admin_creates_logs_in_once_and_is_let_in_by_role_in_every_service(system: System) -> None:
    page = admin_act(system, action="create", name="Fredrik", role="finance", password=PASSWORD)
    assert "Användaren fredrik är skapad (Ekonomi)" in page
    registration, invoicing = system["registration"], system["invoicing"]
    notifications = system["notifications"]
    registration.cookies.clear()

    answer = login(registration, "fredrik", PASSWORD)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    session_id = registration.cookies[SESSION_COOKIE]

    # The browser sends the same cookie to the other services (same host, other ports).
    with_session(invoicing, session_id)
    assert invoicing.get("/").status_code == 200, "finance reads invoices in invoicing"
    with_session(notifications, session_id)
    refused = notifications.get("/")
    assert refused.status_code == 403 and "Behörighet saknas" in refused.text
    assert ("admin", "user.create", "user:fredrik") in audit_actions(system.database_urls["registration"])
    assert ("fredrik", "login.success", "user:fredrik") in audit_actions(system.database_urls["registration"])


def test_disabling_a_user_ends_their_session_and_token_in_every_service_at_once(system: System) -> None:
    system.create_user("sara", "staff")
    session_id = system.session_for("sara")
    token = system.create_token("sara")
    notifications = system["notifications"]
    with_session(notifications, session_id)
    assert notifications.get("/").status_code == 200
    bearer = {"Authorization": f"Bearer {token}"}
    assert notifications.get("/api/v1/emails", headers=bearer).status_code == 200

    page = admin_act(system, action="disable", name="sara")
    assert "Användaren sara är avstängd" in page

    notifications.cookies.clear()
    with_session(notifications, session_id)
    assert notifications.get("/").status_code == 303, "the session is gone"
    assert notifications.get("/api/v1/emails", headers=bearer).status_code == 401
    system["registration"].cookies.clear()
    assert login(system["registration"], "sara", PASSWORD).status_code == 401, "no new login either"
    assert ("admin", "user.disable", "user:sara") in audit_actions(system.database_urls["registration"])
    assert login(system["registration"], ADMIN, ADMIN_PASSWORD).status_code == 303
    audit_table = system["registration"].get("/admin/users").text.split('<table class="audit">')[1]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in audit_table.split("<tr>")]
    assert any(row[1:4] == ["admin", "user.disable", "user:sara"] for row in rows), "the act is on the page"


def test_logging_out_in_one_service_ends_the_session_in_the_others(system: System) -> None:
    system.create_user("sara", "staff")
    registration = system["registration"]
    assert login(registration, "sara", PASSWORD).status_code == 303
    session_id = registration.cookies[SESSION_COOKIE]
    notifications = system["notifications"]
    with_session(notifications, session_id)
    assert notifications.get("/").status_code == 200

    out = registration.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"

    notifications.cookies.clear()
    with_session(notifications, session_id)
    assert notifications.get("/").status_code == 303


def test_a_token_carries_its_users_role_shows_when_it_was_used_and_stops_when_revoked(system: System) -> None:
    system.create_user("fredrik", "finance")
    page = admin_act(system, action="create-token", name="fredrik", label="bokslutsskript")
    token = page.split('id="new-token">')[1].split("<")[0]
    assert len(token) >= 40
    [unused] = system.run(lambda store: store.tokens("fredrik"))
    assert last_used_cell(system["registration"].get("/admin/users").text, unused.id) == "aldrig"
    invoicing, notifications = system["invoicing"], system["notifications"]
    invoicing.cookies.clear()
    notifications.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert invoicing.get("/api/v1/invoices", headers=bearer).status_code == 200
    assert notifications.get("/api/v1/emails", headers=bearer).status_code == 403, "finance is not staff"

    store_tokens = system.run(lambda store: store.tokens("fredrik"))
    [info] = store_tokens
    assert info.label == "bokslutsskript" and info.last_used_at, "the use is recorded"
    users_page = system["registration"].get("/admin/users").text
    assert info.id in users_page and token not in users_page, "the token is shown once, never again"
    assert last_used_cell(users_page, info.id) == info.last_used_at, "the page shows when it was last used"

    admin_act(system, action="revoke-token", token_id=info.id)
    assert invoicing.get("/api/v1/invoices", headers=bearer).status_code == 401
    actions = audit_actions(system.database_urls["registration"])
    assert ("admin", "token.create", "user:fredrik") in actions
    assert ("admin", "token.revoke", "user:fredrik") in actions


def last_used_cell(page: str, token_id: str) -> str:
    """The "Senast använd" cell of the token's row on /admin/users."""
    header = page.split('<table class="tokens">')[1].split("</thead>")[0]
    column = re.findall(r"<th>(.*?)</th>", header).index("Senast använd")
    row = page.split(f'<tr id="token-{token_id}">')[1].split("</tr>")[0]
    return str(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[column])


def test_no_password_raw_token_or_session_id_is_stored_in_redis(system: System) -> None:
    """Redis holds only hashes: a dump of every key after logins, a token's creation and its use."""
    admin_act(system, action="create", name="fredrik", role="finance", password=PASSWORD)
    page = admin_act(system, action="create-token", name="fredrik", label="skript")
    token = page.split('id="new-token">')[1].split("<")[0]
    admin_session = system["registration"].cookies[SESSION_COOKIE]
    invoicing = system["invoicing"]
    invoicing.cookies.clear()
    assert login(invoicing, "fredrik", PASSWORD).status_code == 303
    user_session = invoicing.cookies[SESSION_COOKIE]
    assert invoicing.get("/invoices").status_code == 200, "the session works"
    invoicing.cookies.clear()
    assert invoicing.get("/api/v1/invoices", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    dump = b"\n".join(system.run(lambda store: redis_dump(store.redis)).values())
    assert sha256(token).encode() in dump and sha256(user_session).encode() in dump, "the dump sees the store"
    for secret in (token, admin_session, user_session, PASSWORD, ADMIN_PASSWORD):
        assert secret.encode() not in dump, "a secret is stored in Redis as it is"


async def test_a_user_admin_act_does_not_happen_when_its_audit_entry_cannot_be_written(
        redis_server: RedisServer) -> None:
    """The audit transaction opens before the act: a database that is down stops the act."""
    redis = Redis.from_url(redis_server.url)
    store = AccountStore(redis)
    down = make_engine(POSTGRES_ADMIN_URL.rsplit("@", 1)[0] + "@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(OperationalError):
            await useradmin.create_user(store, down, useradmin.Actor("admin", "10.0.0.1"), "anna", "staff",
                                        PASSWORD, utc_now())
        assert await store.list_users() == [], "no account without its audit entry"
    finally:
        down.dispose()
        await redis.aclose()


def test_bad_input_to_user_admin_gets_a_swedish_message_and_changes_nothing(system: System) -> None:
    short = admin_act(system, 422, action="create", name="anna", role="finance", password="kort")
    assert "Lösenordet ska vara minst 12 tecken" in short
    assert "Användarnamnet ska vara" in admin_act(system, 422, action="create", name="x y", role="staff",
                                                   password=PASSWORD)
    assert "Okänd roll" in admin_act(system, 422, action="create", name="anna", role="boss",
                                     password=PASSWORD)
    assert "administratören från miljön" in admin_act(system, 422, action="create", name=ADMIN,
                                                       role="staff", password=PASSWORD)
    assert "Okänd åtgärd" in admin_act(system, 400, action="drop-table", name="anna")
    assert system.run(lambda store: store.list_users()) == []


def test_failed_logins_are_slowed_then_locked_per_account_across_services(
        database_url: str, redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    with running_system(database_url, redis_server, smtp_server, tmp_path, login_failure_delay_seconds=0.1,
                        login_max_failures_per_user=3, login_lockout_seconds=60) as system:
        system.create_user("fredrik", "finance")
        registration, invoicing = system["registration"], system["invoicing"]
        waits = []
        for _attempt in range(3):
            started = time.monotonic()
            assert login(registration, "fredrik", "fel-lösenord-igen").status_code == 401
            waits.append(time.monotonic() - started)
        # Lower bounds only: on a busy machine a request's own time varies more than the step.
        assert waits[0] >= 0.1 and waits[1] >= 0.2 and waits[2] >= 0.3, f"each failure waits longer: {waits}"

        # Locked now, also on another service (the count is in Redis), even with the right password.
        locked = login(invoicing, "fredrik", PASSWORD)
        assert locked.status_code == 429 and "För många inloggningsförsök" in locked.text
        assert 0 < int(locked.headers["retry-after"]) <= 60
        # Another account from another address is not locked by this one.
        system.create_user("sara", "staff")
        assert login(invoicing, "sara", PASSWORD).status_code == 303
        actions = [a for _actor, a, _s in audit_actions(system.database_urls["registration"])]
        assert actions.count("login.failure") == 3
        assert "login.refused" in [a for _actor, a, _s in audit_actions(system.database_urls["invoicing"])]


def test_failed_logins_from_one_address_lock_that_address_for_every_account(
        redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    with running_system(f"sqlite:///{tmp_path}/x.db", redis_server, smtp_server, tmp_path,
                        login_max_failures_per_address=4, login_max_failures_per_user=100) as system:
        system.create_user("sara", "staff")
        client = system["registration"]
        for name in ("a1", "a2", "a3", "a4"):
            assert login(client, name, "gissning-123456").status_code == 401
        assert login(client, "sara", PASSWORD).status_code == 429


def test_logins_are_rate_limited_per_address_with_retry_after(
        redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    with running_system(f"sqlite:///{tmp_path}/x.db", redis_server, smtp_server, tmp_path,
                        login_rate_limit=2, login_rate_window_seconds=120) as system:
        client = system["registration"]
        assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
        assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
        third = login(client, ADMIN, ADMIN_PASSWORD)
        assert third.status_code == 429 and 0 < int(third.headers["retry-after"]) <= 120


@pytest.mark.parametrize("environment", ["test", "production"])
def test_outside_development_the_session_and_csrf_cookies_are_secure(
        redis_server: RedisServer, tmp_path: Path, environment: str) -> None:
    from fastapi.testclient import TestClient

    settings = RegistrationSettings(**{**common(f"sqlite:///{tmp_path}/r.db", redis_server.url),
                                       "environment": environment, "mail_from": "natverk@reglab.se",
                                       "finance_email": "ekonomi@reglab.se",
                                       "staff_email": "kansliet@reglab.se"})
    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/login")
        assert "Secure" in form.headers["set-cookie"], "the CSRF cookie"
        answer = login(client, ADMIN, ADMIN_PASSWORD)
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"] and "HttpOnly" in answer.headers["set-cookie"]


@pytest.mark.parametrize("next_url", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_a_login_never_redirects_to_another_host(sqlite_system: System, next_url: str) -> None:
    client = sqlite_system["registration"]
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token,
                                         "next": next_url})
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_a_login_without_the_csrf_token_is_refused(sqlite_system: System) -> None:
    client = sqlite_system["registration"]
    client.get("/login")
    answer = client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD, "next": "/"})
    assert answer.status_code == 400 and SESSION_COOKIE not in client.cookies


def test_the_bootstrap_admin_logs_in_whatever_the_case_of_its_configured_name(
        redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> None:
    with running_system(f"sqlite:///{tmp_path}/x.db", redis_server, smtp_server, tmp_path,
                        admin_user="Kansli.Chef") as system:
        client = system["registration"]
        assert login(client, "kansli.chef", ADMIN_PASSWORD).status_code == 303
        page = client.get("/admin/users")
        assert page.status_code == 200
        refused = client.post("/admin/users", data={
            "csrf_token": csrf_of(page.text), "action": "create", "name": "KANSLI.CHEF", "role": "staff",
            "password": PASSWORD})
        assert refused.status_code == 422 and "administratören från miljön" in refused.text
