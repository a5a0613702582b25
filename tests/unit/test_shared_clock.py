"""The injectable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.clock import FileClock, FrozenClock, SystemClock, clock_from_settings

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(AT)
    assert clock.now() == AT
    clock.advance(timedelta(days=7))
    assert clock.now() == AT + timedelta(days=7)


def test_a_file_clock_reads_the_time_its_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "now"
    path.write_text(AT.isoformat())
    clock = FileClock(path)
    assert clock.now() == AT
    path.write_text((AT + timedelta(hours=1)).isoformat())
    assert clock.now() == AT + timedelta(hours=1)
    path.write_text("2026-03-01T12:00:00")
    with pytest.raises(ValueError, match="UTC offset"):
        clock.now()


def test_production_refuses_a_clock_file(tmp_path: Path) -> None:
    assert isinstance(clock_from_settings(None, "production"), SystemClock)
    assert isinstance(clock_from_settings(tmp_path / "now", "test"), FileClock)
    with pytest.raises(ValueError, match="production"):
        clock_from_settings(tmp_path / "now", "production")
