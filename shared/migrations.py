"""Schema migrations with Alembic: each service migrates its own database to head when it starts.

Every service's models share ``SQLModel.metadata`` (their tables carry the
service's prefix), so a service's migrations only ever look at the tables
its runtime names: :func:`run_migrations` (called from each
``services/<name>/migrations/env.py``) filters autogenerate and comparison to
them. Concurrent starts of several instances are serialised by the database
itself: a transaction-scoped advisory lock on PostgreSQL, the write lock
(``BEGIN IMMEDIATE``) on SQLite. A database created before migrations existed
(``create_all``, with no ``alembic_version_<service>``) is stamped at the baseline first.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, Literal

import structlog
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from shared.audit import AuditEntry, protect_audit_log
from shared.consumer import ProcessedEvent
from shared.db import WRITE_OPTION, is_sqlite
from shared.outbox import OutboxMessage

log = structlog.get_logger(__name__)
# Tables every service has besides its own: the outbox, processed events, the audit log.
COMMON_MODELS: list[type[SQLModel]] = [OutboxMessage, ProcessedEvent, AuditEntry]
SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
BASELINE = "0001"
TABLE_PREFIX = {"registration": "reg_", "invoicing": "inv_", "notifications": "ntf_"}


def script_location(service: str) -> Path:
    return SERVICES_DIR / service / "migrations"


def version_table(service: str) -> str:
    """Each service keeps its own revision, so services sharing one database never read each other's."""
    return f"alembic_version_{service}"


def alembic_config(service: str, tables: Collection[str], connection: Connection | None = None) -> Config:
    config = Config()
    config.attributes["service"] = service
    config.set_main_option("script_location", str(script_location(service)))
    config.attributes["tables"] = frozenset(tables)
    config.attributes["connection"] = connection
    return config


def include_only(tables: Collection[str]) -> Any:
    """Alembic's ``include_object``: this service's tables and what hangs off them."""

    def include(obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        if type_ == "table":
            return name in tables
        table = getattr(obj, "table", None)
        return table is None or table.name in tables

    return include


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes types: ``sa.String`` for SQLModel's, our own decorators by import."""
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    module = type(obj).__module__
    if module.startswith("sqlmodel."):
        autogen_context.imports.add("import sqlmodel")
        return False
    if isinstance(obj, TypeDecorator) and module.startswith(("services.", "shared.")):
        autogen_context.imports.add(f"import {module}")
        scale = getattr(obj, "scale", None)
        return f"{module}.{type(obj).__name__}({'' if scale is None else f'scale={scale}'})"
    return False


def run_migrations() -> None:
    """The body of every service's ``env.py`` (online mode, on the connection :func:`migrate` passes)."""
    from alembic import context

    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through shared.migrations.migrate, which passes the connection")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_only(config.attributes["tables"]),
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        version_table=version_table(config.attributes["service"]),
    )
    with context.begin_transaction():
        context.run_migrations()


def _lock(connection: Connection, service: str) -> None:
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(f"reglab-migrate-{service}".encode())
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def migrate(engine: Engine, service: str, tables: Collection[str]) -> None:
    """Bring ``service``'s tables in this database to the newest revision; safe to run concurrently."""
    writer = engine.execution_options(**{WRITE_OPTION: True}) if is_sqlite(engine) else engine
    with writer.begin() as connection:
        _lock(connection, service)
        config = alembic_config(service, tables, connection)
        existing = set(inspect(connection).get_table_names())
        # Only this service's own tables say it was here before (the common ones have no prefix).
        own = {name for name in tables if name.startswith(TABLE_PREFIX[service])}
        if version_table(service) not in existing and existing & own:
            log.warning("database predates migrations; stamping it at the baseline", service=service,
                        baseline=BASELINE)
            command.stamp(config, BASELINE)
        before = current_revision(connection, service)
        command.upgrade(config, "head")
        after = current_revision(connection, service)
        if AuditEntry.__tablename__ in tables:
            # Idempotent, so a database stamped rather than migrated is protected too.
            protect_audit_log(connection)
    if before != after:
        log.info("database migrated", service=service, from_revision=before, to_revision=after)


def migrate_service(engine: Engine, service: str, models: Sequence[type[SQLModel]]) -> None:
    """:func:`migrate` for a service's own models plus the tables every service has."""
    tables = {model.__table__.name for model in [*models, *COMMON_MODELS]}  # type: ignore[attr-defined]
    migrate(engine, service, tables)


def current_revision(connection: Connection, service: str) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": version_table(service)})
    return context.get_current_revision()


def head_revision(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service, ())).get_current_head()
