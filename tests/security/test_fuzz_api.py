"""Schemathesis against each service's OpenAPI, in-process on a started app: no input makes a 5xx.

Each operation gets valid (positive) and invalid (negative) cases generated
from the schema, sent with the admin bootstrap token (so the guarded code runs
too) through the service's own TestClient (its lifespan started: database,
Redis, consumers). Bounded in time as well as in count: at most
``FUZZ_EXAMPLES`` examples per operation and mode (default 25), each request
within ``FUZZ_DEADLINE_SECONDS`` (Hypothesis' deadline, default 10), and each
service's run within ``FUZZ_SECONDS`` (default 60): every operation and mode
gets an equal share of what is left, and its run stops once its share is
spent. Every operation is still sent at least one example. Measured on two
shared cores with the defaults (which the budget then does not cut): 3–13 s
per service, about 60 s for the file's six runs (three services on SQLite and
on PostgreSQL) with their set-up; ``FUZZ_SECONDS=3`` brings a run to ~5 s.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.security.conftest import API_TOKEN, SERVICES, build_apps
from tests.support.servers import RedisServer, SmtpServer, postgres_database

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
DEADLINE = timedelta(seconds=float(os.environ.get("FUZZ_DEADLINE_SECONDS", "10")))
BUDGET_SECONDS = float(os.environ.get("FUZZ_SECONDS", "60"))
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def started(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer,
            tmp_path: Path) -> Iterator[dict[str, TestClient]]:
    """The three apps on SQLite or PostgreSQL (which refuses some text SQLite takes, e.g. NUL)."""
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            urls = {service: f"sqlite:///{tmp_path}/{service}.db" for service in SERVICES}
        else:
            urls = {service: stack.enter_context(postgres_database()) for service in SERVICES}
        yield from _started(urls, redis_server, smtp_server, tmp_path)


def _started(urls: dict[str, str], redis_server: RedisServer, smtp_server: SmtpServer,
             tmp_path: Path) -> Iterator[dict[str, TestClient]]:
    apps = build_apps(urls, redis_server.url, smtp_server.port, tmp_path, signup_rate_limit=0,
                      login_rate_limit=0)
    clients = {service: TestClient(app, raise_server_exceptions=False) for service, app in apps.items()}
    for client in clients.values():
        client.__enter__()
    try:
        yield clients
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)


class BudgetSpent(Exception):
    """An operation's share of ``FUZZ_SECONDS`` is spent: stop its run."""


def send(client: TestClient, case: Any) -> Any:
    kwargs = case.as_transport_kwargs(base_url="", headers=AUTH)
    client.cookies.clear()
    for name, value in (kwargs.get("cookies") or {}).items():
        client.cookies.set(name, str(value))
    request: dict[str, Any] = {"method": kwargs["method"], "url": kwargs["url"],
                               "headers": kwargs.get("headers"), "params": kwargs.get("params")}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif "data" in kwargs:
        data = kwargs["data"]
        request["content" if isinstance(data, (bytes, str)) else "data"] = data
    elif "content" in kwargs:
        request["content"] = kwargs["content"]
    return client.request(**request)


@pytest.mark.parametrize("service", SERVICES)
def test_no_generated_request_makes_a_server_error(started: dict[str, TestClient], service: str) -> None:
    client = started[service]
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, f"{service} documents its API"
    errors: list[str] = []
    sent: dict[str, int] = {}
    slots = [(operation, mode) for operation in operations
             for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    end_of_budget = time.monotonic() + BUDGET_SECONDS
    share = {"ends": end_of_budget}
    for index, (operation, mode) in enumerate(slots):
        now = time.monotonic()
        share["ends"] = now + max(end_of_budget - now, 0) / (len(slots) - index)

        # Generation only: a 5xx is collected, not raised, so there is nothing to shrink, and
        # BudgetSpent ends the run at once (Hypothesis replays it once and raises it).
        @settings(max_examples=EXAMPLES, deadline=DEADLINE, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            name = f"{case.method} {case.path}"
            if sent.get(name) and time.monotonic() > share["ends"]:
                raise BudgetSpent  # stops Hypothesis generating too: it is most of the time

            sent[name] = sent.get(name, 0) + 1
            response = send(client, case)
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                              f"{response.text[:200]}")

        try:
            fuzz()
        except BudgetSpent:
            continue
        except Unsatisfiable:
            # Nothing to make invalid (no parameters and no body): the positive cases cover it.
            assert mode == GenerationMode.NEGATIVE
    assert not errors, "\n".join(errors[:20])
    assert len(sent) == len(operations), "every operation was sent at least one example"
