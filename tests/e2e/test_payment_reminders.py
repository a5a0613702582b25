"""Overdue invoices to payment reminders, through the three services as real processes.

Two organisations are invoiced. The injected clock (REGLAB_CLOCK_FILE) passes
the due date + 7 days: invoicing publishes ``invoice.overdue`` and both get the
first payment reminder. One pays through an imported BgMax file
(``invoice.paid``); notifications restarts; at due + 21 days only the other
gets the second reminder, and nobody gets anything twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.bench import org_number
from devtools.stack import Stack
from tests.e2e.conftest import API_TOKEN, move_clock, running_stack
from tests.support.bgmax import Payment, bgmax_file
from tests.support.servers import SmtpServer

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ISSUED = "2018-01-10T10:00:00+01:00"  # due 30 days later: 2018-02-09
AFTER_FIRST = "2018-02-16T10:00:00+01:00"  # due + 7 days, past 09.00
AFTER_SECOND = "2018-03-02T10:00:00+01:00"  # due + 21 days, past 09.00
REMINDER = "Påminnelse: faktura"


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Stack]:
    env = {"OVERDUE_CHECK_SECONDS": "0.3", "REMINDER_POLL_SECONDS": "0.3",
           "REMINDERS_EFFECTIVE_FROM": "2018-01-01T00:00:00+00:00"}
    with running_stack(request, tmp_path, smtp_server, env, clock_at=ISSUED) as system:
        yield system


def sign_up(stack: Stack, number: str, email: str) -> None:
    body = {
        "organisation": {"name": f"Region {number}", "org_number": number, "invoice_email": email,
                         "address": {"street": "Storgatan 1", "postal_code": "111 22", "city": "Stockholm"},
                         "buyer_reference": "Ref"},
        "contact": {"name": "Kontakt", "email": f"kontakt-{email}"},
        "networks": ["rus"],
        "year": 2018,
    }
    response = httpx.post(f"{stack.url('registration')}/api/v1/signups", json=body, timeout=10)
    assert response.status_code == 201, response.text


def invoice_of(stack: Stack, number: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.url('invoicing')}/api/v1/invoices", params={"org_number": number},
                         headers=AUTH, timeout=10)
    [invoice] = response.json()
    return dict(invoice)


def received(smtp: SmtpServer, to: str, subject_start: str, count: int = 1,
             timeout: float = 60.0) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    found: list[EmailMessage] = []
    while time.monotonic() < deadline:
        found = [m for m in smtp.to(to) if str(m["Subject"]).startswith(subject_start)]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    subjects = [str(m["Subject"]) for m in smtp.to(to)]
    raise AssertionError(f"{count} × {subject_start!r} to {to}; got {subjects}")


def status_becomes(stack: Stack, number: str, status: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if invoice_of(stack, number)["status"] == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{number} never became {status}: {invoice_of(stack, number)}")


def test_overdue_invoices_are_reminded_twice_unless_paid_and_never_twice_the_same(
        stack: Stack, smtp_server: SmtpServer) -> None:
    payer, late = org_number(1), org_number(2)
    sign_up(stack, payer, "faktura@betalar.example")
    sign_up(stack, late, "faktura@sen.example")
    received(smtp_server, "faktura@betalar.example", "Faktura")
    received(smtp_server, "faktura@sen.example", "Faktura")
    paid_invoice = invoice_of(stack, payer)
    assert paid_invoice["due_date"] == "2018-02-09"

    move_clock(stack, AFTER_FIRST)
    [first] = received(smtp_server, "faktura@betalar.example", REMINDER)
    received(smtp_server, "faktura@sen.example", REMINDER)
    assert paid_invoice["number"] in str(first["Subject"])

    bgmax = bgmax_file(Payment(reference=paid_invoice["ocr"], amount=Decimal(paid_invoice["total"]),
                               serial="000000000001"), payment_date=date(2018, 2, 17))
    imported = httpx.post(f"{stack.url('invoicing')}/api/v1/payments/bgmax", content=bgmax,
                          params={"filename": "BGMAX.txt"}, headers=AUTH, timeout=30)
    assert imported.status_code in (200, 201), imported.text
    status_becomes(stack, payer, "paid")
    time.sleep(1.5)  # invoice.paid reaches notifications' read model before the clock moves on

    stack.processes["notifications"].terminate()
    stack.processes["notifications"].start()
    stack.wait_healthy("notifications")
    move_clock(stack, AFTER_SECOND)
    received(smtp_server, "faktura@sen.example", REMINDER, count=2)
    time.sleep(2.0)  # several scheduler ticks: a late or duplicate reminder would show now
    assert reminders(smtp_server, "faktura@sen.example") == 2
    assert reminders(smtp_server, "faktura@betalar.example") == 1


def reminders(smtp: SmtpServer, to: str) -> int:
    return len([m for m in smtp.to(to) if str(m["Subject"]).startswith(REMINDER)])
