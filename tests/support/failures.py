"""When a test that ran real processes fails, show the tail of their logs."""

from __future__ import annotations

from pathlib import Path

import pytest

FAILED = pytest.StashKey[bool]()
"""Set on a test item by the hook in tests/conftest.py when its call phase failed."""


def print_logs_if_failed(request: pytest.FixtureRequest, log_dir: Path, tail: int = 6000) -> None:
    if request.node.stash.get(FAILED, False):
        for log in sorted(log_dir.glob("*.log")):
            print(f"===== {log.name} =====\n{log.read_text(errors='replace')[-tail:]}")
