"""The whole system as real processes: redis-server, the three services and an aiosmtpd server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from devtools.stack import SERVICES, Stack
from tests.support.failures import print_logs_if_failed
from tests.support.servers import SmtpServer, postgres_database

API_TOKEN = "e2e-token-0123456789abcdef"
FINANCE = "ekonomi@reglab.example"
# Every e2e system: a known API token, test mode, and quick retries so faults heal within a test.
BASE_ENV = {"REGLAB_API_TOKEN": API_TOKEN, "REGLAB_ENV": "development", "RECLAIM_IDLE_MS": "2000",
            "MAIL_RETRY_BASE_SECONDS": "0.2"}


@contextlib.contextmanager
def running_stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer,
                  extra_env: Mapping[str, str] | None = None, *,
                  clock_at: str | None = None) -> Iterator[Stack]:
    """The system on SQLite, or on PostgreSQL when ``request.param`` says so, mailing ``smtp_server``.

    ``clock_at`` starts the services' clock file there (see :func:`move_clock`).
    Each service's log is printed when the test fails.
    """
    env = {**BASE_ENV, **(extra_env or {})}
    if clock_at is not None:
        clock = tmp_path / "clock"
        clock.write_text(clock_at)
        env["REGLAB_CLOCK_FILE"] = str(clock)
    with contextlib.ExitStack() as databases:
        urls = {}
        if request.param == "postgresql":
            urls = {s: databases.enter_context(postgres_database()) for s in SERVICES}
        system = Stack(var_dir=tmp_path / "var", smtp_port=smtp_server.port, start_mail_catcher=False,
                       database_urls=urls, log_dir=tmp_path / "logs", extra_env=env)
        # The links in emails point at this system's registration service.
        system.extra_env["REGISTRATION_PUBLIC_URL"] = system.url("registration")
        try:
            system.start()
            yield system
        finally:
            system.stop()
            print_logs_if_failed(request, tmp_path / "logs", 6000)


def move_clock(stack: Stack, at: str) -> None:
    """Every service reads the clock file on each use: now it is ``at``."""
    Path(stack.extra_env["REGLAB_CLOCK_FILE"]).write_text(at)


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Stack]:
    with running_stack(request, tmp_path, smtp_server, {"FINANCE_EMAIL": FINANCE}) as system:
        yield system
