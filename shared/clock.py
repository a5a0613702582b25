"""The clock, injectable: code asks a ``Clock`` for now instead of calling ``datetime.now``.

Tests of reminders and deadlines move time instead of sleeping. In-process
tests pass a :class:`FrozenClock`; tests on real processes set
``REGLAB_CLOCK_FILE`` to a file holding an ISO timestamp, and the service reads
its "now" from there (refused in production by :func:`clock_from_settings`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """Stands still until moved; for in-process tests."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock's time must be timezone-aware")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock's time must be timezone-aware")
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


class FileClock:
    """Reads now from a file (an ISO timestamp with offset) on every call; the file's owner moves time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        text = self.path.read_text(encoding="utf-8").strip()
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            raise ValueError(f"{self.path}: the time must carry a UTC offset, e.g. 2026-03-01T12:00:00+00:00")
        return at


def clock_from_settings(clock_file: Path | None, environment: str) -> Clock:
    if clock_file is None:
        return SystemClock()
    if environment == "production":
        raise ValueError("REGLAB_CLOCK_FILE is for tests and cannot be used in production")
    return FileClock(clock_file)
