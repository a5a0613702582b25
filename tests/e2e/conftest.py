"""The whole system as real processes: redis-server, the three services and an aiosmtpd server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.stack import SERVICES, Stack
from tests.support.failures import print_logs_if_failed
from tests.support.servers import SmtpServer, postgres_database

API_TOKEN = "e2e-token-0123456789abcdef"
FINANCE = "ekonomi@reglab.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Stack]:
    with contextlib.ExitStack() as databases:
        urls = {}
        if request.param == "postgresql":
            urls = {s: databases.enter_context(postgres_database()) for s in SERVICES}
        system = Stack(
            var_dir=tmp_path / "var",
            smtp_port=smtp_server.port,
            start_mail_catcher=False,
            database_urls=urls,
            log_dir=tmp_path / "logs",
            extra_env={
                "REGLAB_API_TOKEN": API_TOKEN,
                "REGLAB_ENV": "test",
                "FINANCE_EMAIL": FINANCE,
                "RECLAIM_IDLE_MS": "2000",
                "MAIL_RETRY_BASE_SECONDS": "0.2",
            },
        )
        try:
            system.start()
            yield system
        finally:
            system.stop()
            print_logs_if_failed(request, tmp_path / "logs", 6000)

