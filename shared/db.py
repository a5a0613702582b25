"""Database engines for SQLite (embedded default) and PostgreSQL (production), and transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, create_engine


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


WRITE_OPTION = "reglab_write"


def _configure_sqlite(engine: Engine) -> None:
    # SQLite upgrades a read lock to a write lock without waiting, so two
    # concurrent read-then-write transactions fail with "database is locked".
    # Taking the write lock at BEGIN (IMMEDIATE) makes them queue instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Turning a new file to WAL needs an exclusive lock and does not wait on the busy
        # timeout: connections opening a fresh database together retry instead of failing.
        for attempt in range(100):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 99:
                    raise
                time.sleep(0.05)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Only writers (``transaction``) take the lock; in WAL mode readers never wait.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_tables(engine: Engine, models: Sequence[type[SQLModel]]) -> None:
    """Create this service's tables only: all models share SQLModel's metadata."""
    tables: list[Table] = [model.__table__ for model in models]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)


# SQLite: one writer lock per engine (i.e. per database file and process).
_writer_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_writer_locks_guard = threading.Lock()
_WRITER_WAIT_SECONDS = 30.0  # as the busy timeout; then BEGIN IMMEDIATE waits and fails as before


def _sqlite_writer_lock(engine: Engine) -> threading.Lock:
    with _writer_locks_guard:
        lock = _writer_locks.get(engine.pool)
        if lock is None:
            lock = _writer_locks[engine.pool] = threading.Lock()
        return lock


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with ExitStack() as stack:
        writer = engine
        if is_sqlite(engine):
            # Writers of this process queue on a lock before BEGIN IMMEDIATE: one is woken
            # as soon as the previous one commits, whereas SQLite's busy handler has every
            # waiting writer sleep and poll (up to 100 ms a nap) for the file's write lock.
            lock = _sqlite_writer_lock(engine)
            if lock.acquire(timeout=_WRITER_WAIT_SECONDS):
                stack.callback(lock.release)
            writer = engine.execution_options(**{WRITE_OPTION: True})
        session = stack.enter_context(Session(writer, expire_on_commit=False))
        stack.enter_context(session.begin())
        yield session
