"""Helpers for registration tests: the app on a TestClient, a valid sign-up, counts and events."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared.db import make_engine
from tests.support.streams import read_events

REGISTRATION_STREAM = "reglab.registration"
TABLES = ("reg_organisation", "reg_signup", "reg_membership", "reg_signup_line", "outbox")


@contextmanager
def registration_client(database_url: str, redis_url: str, **settings: Any) -> Iterator[TestClient]:
    app = create_app(RegistrationSettings(database_url=database_url, redis_url=redis_url,
                                          environment="development", relay_poll_seconds=0.1, **settings))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def signup_body(org_number: str = "556677-8899", networks: list[str] | None = None, **org: Any
                ) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation": {
            "name": "Region Exempel", "org_number": org_number, "invoice_email": "faktura@region.example",
            "address": {"street": "Storgatan 1", "postal_code": "111 22", "city": "Stockholm"},
            "buyer_reference": "Anna Andersson",
        },
        "contact": {"name": "Anna Andersson", "email": "anna@region.example"},
        "networks": networks if networks is not None else ["rus", "analytiker"],
        "year": 2018,
    }
    body = copy.deepcopy(body)
    body["organisation"].update(org)
    return body


def form_data(csrf: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf, "org_name": "Region Exempel", "org_number": "212000-0142",
        "invoice_email": "faktura@region.example", "street": "Storgatan 1", "postal_code": "111 22",
        "city": "Stockholm", "buyer_reference": "Anna Andersson", "contact_name": "Anna Andersson",
        "contact_email": "anna@region.example", "year": "2018", "networks": ["rus", "analytiker"],
        "website": "",
    }
    data.update(changes)
    return data


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def row_counts(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                    for table in TABLES}
    finally:
        engine.dispose()


def wait_for_events(redis_url: str, count: int, timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    events: list[Any] = []
    while time.monotonic() < deadline:
        events = read_events(redis_url, REGISTRATION_STREAM)
        if len(events) >= count:
            return events
        time.sleep(0.05)
    raise TimeoutError(f"expected {count} events on {REGISTRATION_STREAM}, got {len(events)}")


VOID_TAGS = frozenset({"input", "br", "img", "meta", "link", "hr", "source", "col", "area", "base", "wbr"})


class _ById(HTMLParser):

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.depth = 0
        self.text: list[str] = []
        self.found = False
        self.attrs: dict[str, str | None] = {}
        self.inner_inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self.depth:
            if tag == "input":
                self.inner_inputs.append(attributes)
            if tag not in VOID_TAGS:
                self.depth += 1
        elif attributes.get("id") == self.wanted:
            self.found = True
            self.attrs = attributes
            if tag not in VOID_TAGS:
                self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in VOID_TAGS:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def element(html: str, element_id: str) -> _ById:
    """The element with ``id``: its attributes, its text and the inputs inside it."""
    parser = _ById(element_id)
    parser.feed(html)
    assert parser.found, f"no element with id {element_id!r}"
    return parser


def text_of(html: str, element_id: str) -> str:
    return " ".join("".join(element(html, element_id).text).replace("\u00a0", " ").split())
