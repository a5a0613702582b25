"""Fixtures of the fault suite: the whole system as real processes, with short timings, and a faulty SMTP.

Timings are shortened through the environment only (what an operator could
set too): a pending entry is reclaimed after 2 s, a failed email retried after
0.2 s (at most 2 s later), and an email claimed by a sender that died is free
again after 5 s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.stack import SERVICES, Stack
from tests.faults.harness import API_TOKEN, FINANCE, STAFF, SUMMARY
from tests.faults.smtp import FaultySmtpServer
from tests.support.failures import print_logs_if_failed
from tests.support.servers import postgres_database

SHORT_TIMINGS = {
    "REGLAB_API_TOKEN": API_TOKEN,
    "REGLAB_ENV": "development",
    "FINANCE_EMAIL": FINANCE,
    "STAFF_EMAIL": STAFF,
    "RECLAIM_IDLE_MS": "2000",
    "MAIL_RETRY_BASE_SECONDS": "0.2",
    "MAIL_RETRY_CEILING_SECONDS": "2",
    "MAIL_CLAIM_LEASE_SECONDS": "5",
    "SMTP_TIMEOUT_SECONDS": "5",
    "OUTBOX_RELAY_POLL_SECONDS": "0.2",
    "SIGNUP_RATE_LIMIT": "0",  # hundreds of sign-ups from one address, on purpose
}

StackFactory = Callable[..., Stack]


@pytest.fixture
def smtp() -> Iterator[FaultySmtpServer]:
    server = FaultySmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def system(request: pytest.FixtureRequest, tmp_path: Path, smtp: FaultySmtpServer) -> Iterator[StackFactory]:
    """Starts the stack on demand: ``system()`` on SQLite, ``system(postgresql=True, extra=...)``.

    ``extra`` names further instances, e.g. ``{"invoicing-2": "invoicing"}``.
    """
    with contextlib.ExitStack() as cleanup:
        stacks: list[Stack] = []

        def start(*, postgresql: bool = False, extra: dict[str, str] | None = None) -> Stack:
            urls = {s: cleanup.enter_context(postgres_database()) for s in SERVICES} if postgresql else {}
            stack = Stack(var_dir=tmp_path / "var", smtp_port=smtp.port, start_mail_catcher=False,
                          database_urls=urls, log_dir=tmp_path / "logs", extra_env=dict(SHORT_TIMINGS))
            stacks.append(stack)
            stack.start()
            for instance, service in (extra or {}).items():
                stack.add_service(service, instance).start()
            for instance in extra or {}:
                stack.wait_healthy(instance)
            return stack

        try:
            yield start
        finally:
            for stack in stacks:
                stack.stop()
            print_logs_if_failed(request, tmp_path / "logs", 5000)



def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One FAULT line per scenario at the end of the run, also when output is captured."""
    if SUMMARY:
        terminalreporter.section("fault scenarios")
        for line in SUMMARY:
            terminalreporter.write_line(line)
