"""The ``users``/``tokens`` command and two services as real processes: one login, no secret in any log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from devtools.stack import Stack
from shared.audit import AuditEntry
from shared.db import make_engine
from tests.support.failures import print_logs_if_failed
from tests.support.registration import signup_body
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hemligt-lösenord-7f3a9c"
ADMIN_PASSWORD = "process-admin-password-9b1e"
API_TOKEN = "process-bootstrap-token-4d2c8e0a"
SMTP_PASSWORD = "smtp-relay-password-5e8b1d"


def command(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.registration", *args], cwd=ROOT,
                          env={**os.environ, "REGLAB_ENV": "development", **env}, input=stdin,
                          capture_output=True, text=True, timeout=60)


def audit_rows(database_url: str) -> list[AuditEntry]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditEntry)).all())
    finally:
        engine.dispose()


def test_the_command_creates_lists_disables_users_and_manages_tokens_with_an_audit_trail(
        redis_server: RedisServer, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/registration.db"
    env = {"REDIS_URL": redis_server.url, "REGISTRATION_DATABASE_URL": database_url}

    created = command(env, "users", "create", "Anna", "--role", "finance", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "anna" in created.stdout and PASSWORD not in created.stdout + created.stderr
    assert command(env, "users", "create", "anna", "--role", "staff", stdin=PASSWORD + "\n").returncode == 1
    weak = command(env, "users", "create", "bo", "--role", "staff", stdin="kort\n")
    assert weak.returncode == 1 and "minst 12 tecken" in weak.stderr
    assert command(env, "users", "create", "bo", "--role", "chef", stdin=PASSWORD + "\n").returncode == 2

    listed = command(env, "users", "list", "--json")
    assert listed.returncode == 0
    assert '"name": "anna"' in listed.stdout and '"role": "finance"' in listed.stdout
    assert "argon2" not in listed.stdout, "the hash is not shown"

    token = command(env, "tokens", "create", "anna", "--label", "skript")
    assert token.returncode == 0
    secret = token.stdout.strip()
    assert len(secret) >= 40
    tokens = command(env, "tokens", "list")
    assert "skript" in tokens.stdout and secret not in tokens.stdout
    token_id = tokens.stdout.split("\t")[0]
    assert command(env, "tokens", "revoke", token_id).returncode == 0
    assert command(env, "tokens", "revoke", token_id).returncode == 1

    disabled = command(env, "users", "disable", "anna")
    assert disabled.returncode == 0 and "avstängd" in disabled.stdout
    assert "avstängd" in command(env, "users", "list").stdout
    assert command(env, "users", "disable", "nobody").returncode == 1

    rows = audit_rows(database_url)
    assert [row.action for row in rows] == ["user.create", "token.create", "token.revoke", "user.disable"]
    assert all(row.actor.startswith("cli") and row.remote_addr == "local" for row in rows)
    assert all(secret not in row.detail and PASSWORD not in row.detail for row in rows)

    unreachable = command({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, "users", "list")
    assert unreachable.returncode == 3


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    system = Stack(var_dir=tmp_path / "var", start_mail_catcher=False, log_dir=tmp_path / "logs",
                   extra_env={"REGLAB_ENV": "development", "REGLAB_API_TOKEN": API_TOKEN,
                              "REGLAB_ADMIN_PASSWORD": ADMIN_PASSWORD, "LOG_LEVEL": "DEBUG",
                              "LOG_FORMAT": "json", "LOGIN_FAILURE_DELAY_SECONDS": "0",
                              # The mail catcher offers no AUTH, so every send fails and is logged.
                              "SMTP_USERNAME": "reglab", "SMTP_PASSWORD": SMTP_PASSWORD})
    try:
        system.start(services=("registration", "invoicing", "notifications"))
        yield system
    finally:
        system.stop()
        print_logs_if_failed(request, tmp_path / "logs", 4000)


def login(client: httpx.Client, base: str, username: str, password: str) -> httpx.Response:
    page = client.get(f"{base}/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return client.post(f"{base}/login", data={"username": username, "password": password,
                                              "csrf_token": match.group(1), "next": "/"})


def test_one_login_works_on_two_service_processes_and_no_secret_reaches_the_logs(
        stack: Stack, tmp_path: Path) -> None:
    env = {"REDIS_URL": stack.redis_url,
           "REGISTRATION_DATABASE_URL": f"sqlite:///{stack.var_dir}/registration.db"}
    created = command(env, "users", "create", "fredrik", "--role", "finance", stdin=PASSWORD + "\n")
    assert created.returncode == 0
    token = command(env, "tokens", "create", "fredrik").stdout.strip()
    registration, invoicing = stack.url("registration"), stack.url("invoicing")

    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        assert login(browser, registration, "fredrik", "fel-" + PASSWORD).status_code == 401
        assert login(browser, registration, "fredrik", PASSWORD).status_code == 303
        session_id = browser.cookies.get("reglab_session")
        assert session_id
        # The cookie jar sends the same cookie to the other service's port, as a browser does.
        assert browser.get(f"{invoicing}/").status_code == 200
        assert login(browser, invoicing, "admin", ADMIN_PASSWORD).status_code == 303
    with httpx.Client(timeout=10) as script:
        assert script.get(f"{invoicing}/api/v1/invoices",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert script.get(f"{invoicing}/api/v1/invoices",
                          headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200
        assert script.get(f"{invoicing}/api/v1/invoices",
                          headers={"Authorization": "Bearer wrong-" + token}).status_code == 401
        # Notifications tries to send a confirmation with the SMTP password, fails, and logs why.
        assert script.post(f"{registration}/api/v1/signups", json=signup_body()).status_code == 201
        emails = f"{stack.url('notifications')}/api/v1/emails"
        deadline = time.monotonic() + 30
        while not any(email["attempts"] for email in script.get(
                emails, headers={"Authorization": f"Bearer {API_TOKEN}"}).json()["emails"]):
            assert time.monotonic() < deadline, "notifications never tried to send"
            time.sleep(0.2)

    stack.stop()
    logs = "".join(path.read_text(errors="replace") for path in (tmp_path / "logs").glob("*.log"))
    assert '"event": "login"' in logs and "fredrik" in logs, "logins are logged (by name)"
    assert "notifications" in logs and "smtp" in logs.lower(), "the failed send is logged"
    for secret in (PASSWORD, ADMIN_PASSWORD, token, API_TOKEN, session_id, SMTP_PASSWORD):
        assert secret not in logs, "a secret reached the logs"
