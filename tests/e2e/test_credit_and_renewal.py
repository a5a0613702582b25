"""A cancellation to the credit note email, the yearly run to one invoice per organisation: real processes."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from devtools.stack import Stack
from tests.e2e.conftest import API_TOKEN, FINANCE, running_stack
from tests.e2e.test_signup_to_inbox import signup_json
from tests.support.servers import SmtpServer

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
POLICY_2019 = ('year = 2019\nfee = "4500.00"\n'
               '[[exemptions]]\nnetwork = "analytiker"\nreason = "Samarrangemang"\n')


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Stack]:
    """The whole system with a fee policy for 2019, so 2018 can be renewed."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    env = {"FINANCE_EMAIL": FINANCE, "FEE_POLICY_DIR": str(policies), "RENEWAL_BATCH_SIZE": "1"}
    with running_stack(request, tmp_path, smtp_server, env) as system:
        yield system


def pdf_text(message: EmailMessage) -> str:
    [attachment] = [part for part in message.iter_attachments()
                    if part.get_content_type() == "application/pdf"]
    data = attachment.get_content()
    assert isinstance(data, bytes)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("\u00a0", " ").split())


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def invoices(stack: Stack) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.url('invoicing')}/api/v1/invoices", headers=AUTH)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


def wait_until(condition: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not met after {timeout} s")


def test_a_cancelled_network_is_credited_by_email_and_the_yearly_run_invoices_each_organisation_once(
        stack: Stack, smtp_server: SmtpServer) -> None:
    registration = httpx.Client(base_url=stack.url("registration"), headers=AUTH)
    first = registration.post("/api/v1/signups", json=signup_json(1, ["ung-region", "rus", "analytiker"]))
    assert first.status_code == 201, first.text
    assert registration.post("/api/v1/signups", json=signup_json(2, ["integration"])).status_code == 201
    smtp_server.wait_for(6, 60)  # two confirmations, two invoices, two copies to finance
    [invoice] = smtp_server.to("faktura1@kommun.example")
    original = invoice["Subject"].split()[1]

    ung_region = {m["network"]: m["id"] for m in first.json()["memberships"]}["ung-region"]
    cancelled = registration.post(f"/api/v1/memberships/{ung_region}/cancel", json={"reason": "Slutar"})
    assert cancelled.status_code == 200 and cancelled.json()["changed"] is True

    smtp_server.wait_for(8, 60)
    [_invoice, credit] = smtp_server.to("faktura1@kommun.example")
    number = credit["Subject"].split()[1]
    assert credit["Subject"] == f"Kreditfaktura {number} från Reglab"
    assert f"Kreditfakturan avser faktura {original}" in body(credit)
    text = pdf_text(credit)
    assert number in text and "Ung region" in text and "RUS" not in text, "only the cancelled network"
    [finance_copy] = [m for m in smtp_server.to(FINANCE) if number in str(m["Subject"])]
    assert pdf_text(finance_copy) == text
    listed = {i["number"]: i for i in invoices(stack)}
    assert listed[number]["kind"] == "credit_note" and listed[number]["total"] == "-5000.00"
    assert listed[original]["status"] == "partly_credited"

    started = registration.post("/api/v1/renewals", json={"from_year": 2018, "to_year": 2019})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    run = wait_until(lambda: (r := registration.get(f"/api/v1/renewals/{run_id}").json())["status"]
                     == "finished" and r, what="the renewal run finished")
    assert (run["organisations_total"], run["organisations_done"], run["memberships_created"]) == (2, 2, 3)

    renewed = wait_until(lambda: (found := [i for i in invoices(stack)
                                            if i["lines"] and i["lines"][0]["description"].startswith(
                                                "Medlemsavgift 2019")]) and len(found) == 2 and found,
                         what="one 2019 invoice per organisation")
    by_buyer = {i["buyer"]["name"]: i for i in renewed}
    assert [line["network"] for line in by_buyer["Testkommun 1"]["lines"]] == ["rus"], \
        "ung-region was cancelled, analytiker is exempt"
    assert by_buyer["Testkommun 1"]["total"] == "5625.00"
    assert [line["network"] for line in by_buyer["Testkommun 2"]["lines"]] == ["integration"]

    smtp_server.wait_for(12, 60)
    time.sleep(1.5)  # anything sent twice would arrive now
    assert len(smtp_server.messages) == 12
    assert len(smtp_server.to("faktura1@kommun.example")) == 3
    assert len(smtp_server.to("faktura2@kommun.example")) == 2
    assert len(smtp_server.to(FINANCE)) == 5

    again = registration.post("/api/v1/renewals", json={"from_year": 2018, "to_year": 2019})
    assert again.status_code == 202 and again.json()["organisations_total"] == 0
    time.sleep(2)
    assert len(invoices(stack)) == 5, "a second run invoices nothing"
    registration.close()
