"""From a sign-up to the organisation's inbox, through the three services as real processes."""

from __future__ import annotations

import io
import re
import time
from email.message import EmailMessage

import httpx
from pypdf import PdfReader

from devtools.stack import Stack
from tests.e2e.conftest import API_TOKEN, FINANCE
from tests.support.servers import SmtpServer


def signup_json(i: int, networks: list[str]) -> dict[str, object]:
    from devtools.bench import org_number

    return {
        "organisation": {
            "name": f"Testkommun {i}", "org_number": org_number(i),
            "invoice_email": f"faktura{i}@kommun.example",
            "address": {"street": "Storgatan 1", "postal_code": "111 22", "city": "Stockholm"},
            "buyer_reference": f"Ref {i}",
        },
        "contact": {"name": f"Kontakt {i}", "email": f"kontakt{i}@kommun.example"},
        "networks": networks,
        "year": 2018,
    }


def pdf_text(message: EmailMessage) -> str:
    attachments = [part for part in message.iter_attachments()
                   if part.get_content_type() == "application/pdf"]
    assert len(attachments) == 1, "the invoice email carries exactly one PDF"
    data = attachments[0].get_content()
    assert isinstance(data, bytes)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def wait_quiet(smtp: SmtpServer, expected: int, timeout: float = 60.0) -> list[EmailMessage]:
    """Wait for ``expected`` emails, then a moment more to catch any duplicate."""
    smtp.wait_for(expected, timeout)
    time.sleep(1.5)
    return smtp.messages


def test_a_form_signup_ends_with_the_confirmation_and_the_invoice_pdf_in_the_inboxes(
        stack: Stack, smtp_server: SmtpServer) -> None:
    with httpx.Client(base_url=stack.url("registration"), follow_redirects=True) as browser:
        form = browser.get("/")
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, "the form carries a CSRF token"
        receipt = browser.post("/", data={
            "csrf_token": token.group(1),
            "org_name": "Region Exempel",
            "org_number": "212000-0142",
            "invoice_email": "faktura@region.example",
            "street": "Storgatan 1",
            "postal_code": "111 22",
            "city": "Stockholm",
            "buyer_reference": "Anna Andersson",
            "contact_name": "Anna Andersson",
            "contact_email": "anna@region.example",
            "year": "2018",
            "networks": ["ung-region", "rus", "analytiker"],
        })
    assert receipt.status_code == 200, receipt.text[:2000]
    assert "Ung region" in receipt.text and "RUS-nätverket" in receipt.text

    messages = wait_quiet(smtp_server, 3)
    assert len(messages) == 3, [m["To"] for m in messages]
    [confirmation] = smtp_server.to("anna@region.example")
    body = confirmation.get_body(("plain",))
    assert body is not None
    assert "Ung region" in body.get_content() and "Analytikernätverket" in body.get_content()

    [invoice] = smtp_server.to("faktura@region.example")
    [copy] = smtp_server.to(FINANCE)
    text = pdf_text(invoice)
    # Two fee-liable networks: 8 000 kr + 25 % VAT; Analytikernätverket is exempt.
    assert "10 000,00" in text.replace("\u00a0", " ")
    assert "Region Exempel" in text
    assert pdf_text(copy) == text

    answer = httpx.get(f"{stack.url('invoicing')}/api/v1/invoices", params={"org_number": "2120000142"},
                       headers={"Authorization": f"Bearer {API_TOKEN}"})
    [issued] = answer.json()
    assert issued["total"] == "10000.00" and len(issued["lines"]) == 2
    assert issued["number"] in text


def test_services_killed_midway_still_deliver_everything_exactly_once(
        stack: Stack, smtp_server: SmtpServer) -> None:
    """kill -9 notifications, then invoicing, while sign-ups come in; restart; count."""
    stack.processes["notifications"].kill()
    signups = [(i, ["ung-region", "integration"] if i % 3 else ["utvardering"]) for i in range(1, 13)]
    with httpx.Client(base_url=stack.url("registration")) as client:
        for i, networks in signups[:6]:
            assert client.post("/api/v1/signups", json=signup_json(i, networks)).status_code == 201
        stack.processes["invoicing"].kill()
        for i, networks in signups[6:]:
            assert client.post("/api/v1/signups", json=signup_json(i, networks)).status_code == 201
    stack.processes["invoicing"].start()
    stack.processes["notifications"].start()
    stack.wait_healthy("invoicing")
    stack.wait_healthy("notifications")

    with_fee = [i for i, networks in signups if networks != ["utvardering"]]
    expected = len(signups) + 2 * len(with_fee)
    messages = wait_quiet(smtp_server, expected)
    assert len(messages) == expected
    for i, _networks in signups:
        assert len(smtp_server.to(f"kontakt{i}@kommun.example")) == 1
        assert len(smtp_server.to(f"faktura{i}@kommun.example")) == (1 if i in with_fee else 0)
    assert len(smtp_server.to(FINANCE)) == len(with_fee)

    invoices = httpx.get(f"{stack.url('invoicing')}/api/v1/invoices",
                         headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    assert len(invoices) == len(with_fee)
    sequence = sorted(int(invoice["number"].rsplit("-", 1)[-1]) for invoice in invoices)
    assert sequence == list(range(sequence[0], sequence[0] + len(with_fee))), "gap-free numbers"
