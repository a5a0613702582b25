"""The three services in-process on one real Redis (one identity store), each with its own database."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.invoicing.app import create_app as create_invoicing
from services.invoicing.settings import InvoicingSettings
from services.notifications.app import create_app as create_notifications
from services.notifications.settings import NotificationsSettings
from services.registration.app import create_app as create_registration
from services.registration.settings import RegistrationSettings
from shared.accounts import AccountStore
from shared.events import utc_now
from shared.web import SESSION_COOKIE
from tests.support.servers import RedisServer, SmtpServer, postgres_database

SERVICES = ("registration", "invoicing", "notifications")
API_TOKEN = "security-test-token-0123456789"
ADMIN = "admin"
ADMIN_PASSWORD = "security-test-admin-password"
SECRET_KEY = "security-test-secret-key-0123456789"
PASSWORD = "ett-långt-lösenord-42"


def common(database_url: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    return {"database_url": database_url, "redis_url": redis_url, "environment": "development",
            "api_token": API_TOKEN, "admin_user": ADMIN, "admin_password": ADMIN_PASSWORD,
            "secret_key": SECRET_KEY, "relay_poll_seconds": 0.1, "login_failure_delay_seconds": 0,
            **extra}


@dataclass
class System:
    clients: dict[str, TestClient]
    redis_url: str
    database_urls: dict[str, str]

    def __getitem__(self, service: str) -> TestClient:
        return self.clients[service]

    def run(self, coroutine: Any) -> Any:
        """Run an AccountStore call against the shared Redis from the test's thread."""
        async def go() -> Any:
            from redis.asyncio import Redis
            redis = Redis.from_url(self.redis_url)
            try:
                return await coroutine(AccountStore(redis, reserved=ADMIN))
            finally:
                await redis.aclose()

        return asyncio.run(go())

    def create_user(self, name: str, role: str, password: str = PASSWORD) -> None:
        self.run(lambda store: store.create_user(name, role, password, utc_now()))

    def create_token(self, name: str, label: str = "test") -> str:
        token, _info = self.run(lambda store: store.create_token(name, label, utc_now()))
        assert isinstance(token, str)
        return token

    def session_for(self, name: str) -> str:
        session_id = self.run(lambda store: store.start_session(name, 3600, utc_now()))
        assert isinstance(session_id, str)
        return session_id


def build_apps(database_urls: dict[str, str], redis_url: str, smtp_port: int, tmp_path: Path,
               **extra: Any) -> dict[str, Any]:
    return {
        "registration": create_registration(RegistrationSettings(
            **common(database_urls["registration"], redis_url, **extra))),
        "invoicing": create_invoicing(InvoicingSettings(
            **common(database_urls["invoicing"], redis_url, **extra))),
        "notifications": create_notifications(NotificationsSettings(
            **common(database_urls["notifications"], redis_url, **extra), smtp_port=smtp_port,
            var_dir=tmp_path, reclaim_idle_ms=60_000)),
    }


@contextlib.contextmanager
def running_system(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer,
                   tmp_path: Path, **extra: Any) -> Iterator[System]:
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            urls = {service: f"sqlite:///{tmp_path}/{service}.db" for service in SERVICES}
        else:
            urls = {"registration": database_url,
                    "invoicing": stack.enter_context(postgres_database()),
                    "notifications": stack.enter_context(postgres_database())}
        apps = build_apps(urls, redis_server.url, smtp_server.port, tmp_path, **extra)
        clients = {service: stack.enter_context(TestClient(app, follow_redirects=False))
                   for service, app in apps.items()}
        yield System(clients, redis_server.url, urls)


@pytest.fixture
def system(database_url: str, redis_server: RedisServer, smtp_server: SmtpServer,
           tmp_path: Path) -> Iterator[System]:
    with running_system(database_url, redis_server, smtp_server, tmp_path) as running:
        yield running


@pytest.fixture
def sqlite_system(redis_server: RedisServer, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[System]:
    with running_system(f"sqlite:///{tmp_path}/x.db", redis_server, smtp_server, tmp_path) as running:
        yield running


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> Any:
    """Log in through the form as a browser does; returns the response (303 on success)."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": "/"})


def with_session(client: TestClient, session_id: str) -> None:
    client.cookies.set(SESSION_COOKIE, session_id)
