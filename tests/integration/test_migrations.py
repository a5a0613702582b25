"""Every service's migrations build exactly the schema its models describe, on both databases.

A model change without a migration fails here: write one with
``.venv/bin/python -m devtools.makemigration <service> "what changed"``.
"""

from __future__ import annotations

import importlib
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel

from devtools.makemigration import service_tables
from shared.audit import entries_for, record_act
from shared.db import create_tables, make_engine, transaction
from shared.migrations import (
    COMMON_MODELS,
    alembic_config,
    current_revision,
    head_revision,
    include_only,
    migrate,
)

SERVICES = ["registration", "invoicing", "notifications"]


def differences(url: str, service: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "include_object": include_only(service_tables(service)), "compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def revision_of(url: str, service: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection, service)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_the_schema_the_models_describe(database_url: str, service: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, service, service_tables(service))
    migrate(engine, service, service_tables(service))  # a second start changes nothing
    engine.dispose()
    assert differences(database_url, service) == []
    assert revision_of(database_url, service) == head_revision(service)


def test_instances_starting_together_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(database_url)
        try:
            migrate(engine, "invoicing", service_tables("invoicing"))
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert revision_of(database_url, "invoicing") == head_revision("invoicing")


def test_a_database_made_before_migrations_is_stamped_at_the_baseline(database_url: str) -> None:
    models = importlib.import_module("services.notifications.app").SERVICE_MODELS
    engine = make_engine(database_url)
    create_tables(engine, [*models, *COMMON_MODELS])
    with transaction(engine) as session:
        record_act(session, actor="anna", action="test.act", subject="before-migrations")
    migrate(engine, "notifications", service_tables("notifications"))
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "alembic_version_notifications" in tables
    assert revision_of(database_url, "notifications") == head_revision("notifications")
    engine = make_engine(database_url)
    with Session(engine) as session:
        assert [e.actor for e in entries_for(session, "before-migrations")] == ["anna"]
    engine.dispose()



def test_notifications_remembers_who_was_invited_before_invitee_lists_could_change(database_url: str) -> None:
    """0002: who was on a list at 0001 was invited at meeting.scheduled; no later list invites them again."""
    tables = service_tables("notifications")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config("notifications", tables, connection), "0001")
        connection.execute(text(
            "INSERT INTO ntf_invitee"
            " (meeting_id, contact_id, name, email, organisation_id, organisation_name)"
            " VALUES (12, 1, 'Anna', 'anna@region.example', 5, 'Region'),"
            " (12, 2, 'Bo', 'bo@norr.example', 6, 'Norr')"))
    migrate(engine, "notifications", tables)
    with engine.connect() as connection:
        invited = connection.execute(
            text("SELECT meeting_id, contact_id FROM ntf_meeting_invited ORDER BY contact_id")).all()
    engine.dispose()
    assert [tuple(row) for row in invited] == [(12, 1), (12, 2)]
