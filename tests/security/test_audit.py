"""The audit log: append-only in the database itself, and every replay and login recorded and shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from services.invoicing.app import SERVICE_MODELS as invoicing_models
from services.notifications.app import SERVICE_MODELS as notifications_models
from services.registration.app import SERVICE_MODELS as registration_models
from shared.audit import AuditEntry, protect_audit_log, record_act
from shared.db import create_tables, make_engine, transaction
from shared.events import utc_now
from shared.migrations import migrate_service
from tests.security.conftest import ADMIN, ADMIN_PASSWORD, PASSWORD, System, csrf_of, login
from tests.support.dead_letters import seed_dead_letter
from tests.support.servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def entries(database_url: str) -> list[AuditEntry]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            statement = select(AuditEntry).order_by(AuditEntry.id)  # type: ignore[arg-type]
            return list(session.exec(statement).all())
    finally:
        engine.dispose()


def test_the_database_refuses_to_update_or_delete_an_audit_entry(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        create_tables(engine, [AuditEntry])
        protect_audit_log(engine)
        protect_audit_log(engine)  # idempotent: every start runs it
        with transaction(engine) as session:
            record_act(session, actor="anna", action="payment.register", subject="invoice:2018-00001",
                       remote_addr="10.0.0.1", at=utc_now())
        for statement in ("UPDATE audit_entry SET actor = 'mallory'", "DELETE FROM audit_entry"):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT actor FROM audit_entry")).scalars().all() == ["anna"]
        with transaction(engine) as session:  # appending still works
            record_act(session, actor="bo", action="user.create", subject="user:cia")
    finally:
        engine.dispose()


SERVICE_MODELS = {"registration": registration_models, "invoicing": invoicing_models,
                  "notifications": notifications_models}


@pytest.mark.parametrize("service", sorted(SERVICE_MODELS))
def test_a_service_database_built_by_its_migrations_refuses_to_edit_or_empty_the_audit_log(
        database_url: str, service: str) -> None:
    """The triggers come with the migrations a service runs at start, not from a test's own set-up."""
    engine = make_engine(database_url)
    try:
        migrate_service(engine, service, SERVICE_MODELS[service])
        with transaction(engine) as session:
            record_act(session, actor="anna", action="invoice.credit", subject="invoice:2018-00001")
        refused = ["UPDATE audit_entry SET actor = 'mallory'", "DELETE FROM audit_entry"]
        if engine.dialect.name == "postgresql":
            refused.append("TRUNCATE audit_entry")
        for statement in refused:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT actor FROM audit_entry")).scalars().all() == ["anna"]
    finally:
        engine.dispose()


def test_a_replay_from_the_page_and_the_api_is_audited_and_shown_on_the_page(system: System) -> None:
    invoicing = system["invoicing"]
    first = seed_dead_letter(system.redis_url, "invoicing", 1)
    second = seed_dead_letter(system.redis_url, "invoicing", 2)
    system.create_user("sara", "staff")
    assert login(invoicing, "sara", PASSWORD).status_code == 303
    token = csrf_of(invoicing.get("/dead-letters").text)
    assert invoicing.post(f"/dead-letters/{first}/replay", data={"csrf_token": token}).status_code == 303
    bearer = {"Authorization": f"Bearer {system.create_token('sara')}"}
    invoicing.cookies.clear()
    assert invoicing.post(f"/api/v1/dead-letters/{second}/replay", headers=bearer).status_code == 200

    rows = [(e.actor, e.action, e.subject) for e in entries(system.database_urls["invoicing"])]
    assert rows.count(("sara", "dead_letter.replay", "dead-letters")) == 2
    replays = [e for e in entries(system.database_urls["invoicing"]) if e.action == "dead_letter.replay"]
    assert first in replays[0].detail and second in replays[1].detail
    assert replays[0].remote_addr == "testclient"
    assert login(invoicing, "sara", PASSWORD).status_code == 303
    page = invoicing.get("/dead-letters").text
    assert "Uppspelningar" in page and first in page and "dead_letter.replay" in page


def test_the_admin_page_lists_the_services_log_with_logins_and_failures(system: System) -> None:
    client = system["notifications"]
    assert login(client, "nobody", "not-the-password").status_code == 401
    assert login(client, ADMIN, ADMIN_PASSWORD).status_code == 303
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "Granskningslogg – notifications" in page.text
    assert "login.failure" in page.text and "user:nobody" in page.text and "login.success" in page.text
    assert "not-the-password" not in page.text
    filtered = client.get("/admin/audit", params={"actor": "nobody"}).text
    assert "login.failure" in filtered and "login.success" not in filtered


def test_a_replay_from_the_command_is_audited_with_the_operating_system_user(
        redis_server: RedisServer, tmp_path: Path) -> None:
    letter = seed_dead_letter(redis_server.url, "invoicing", 5)
    database_url = f"sqlite:///{tmp_path}/invoicing.db"
    env = {**os.environ, "REDIS_URL": redis_server.url, "INVOICING_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "services.invoicing", "dead-letters", "replay", letter],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [entry] = entries(database_url)
    assert entry.action == "dead_letter.replay" and entry.subject == "dead-letters" and letter in entry.detail
    assert entry.actor.startswith("cli") and entry.remote_addr == "local"
