"""The invoicing service on real Redis and SQLite/PostgreSQL: sign-ups in, invoices and events out."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.invoicing.app import create_app
from services.invoicing.models import InvFeeDecision, InvInvoice, InvInvoiceLine
from services.invoicing.ocr import valid_ocr
from shared.consumer import ProcessedEvent
from shared.events import INVOICING_STREAM, InvoiceIssued, SignupCompleted
from tests.support.invoicing import AUTH, invoicing_settings, pdf_text, publish, signup_event, wait_for
from tests.support.servers import RedisServer
from tests.support.streams import read_events


@dataclass
class Invoicing:
    client: TestClient
    engine: Engine
    redis_url: str

    def invoices(self, **params: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/invoices", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return list(response.json())

    def handled(self, *events: SignupCompleted) -> bool:
        with Session(self.engine) as session:
            return all(session.get(ProcessedEvent, str(e.event_id)) is not None for e in events)

    def issued_events(self) -> list[InvoiceIssued]:
        return [e for e in read_events(self.redis_url, INVOICING_STREAM) if isinstance(e, InvoiceIssued)]

    def decisions(self) -> list[InvFeeDecision]:
        with Session(self.engine) as session:
            return list(session.exec(select(InvFeeDecision).order_by(col(InvFeeDecision.membership_id))))


@pytest.fixture
def invoicing(database_url: str, redis_server: RedisServer) -> Iterator[Invoicing]:
    app = create_app(invoicing_settings(database_url, redis_server.url))
    with TestClient(app) as client:
        yield Invoicing(client, app.state.runtime.engine, redis_server.url)


def test_a_signup_is_invoiced_for_its_fee_liable_networks_and_the_pdf_goes_out_in_the_event(
        invoicing: Invoicing) -> None:
    event = signup_event(1, [(11, "rus"), (12, "analytiker"), (13, "ung-region"),
                             (14, "smart-specialisering")])
    publish(invoicing.redis_url, event)

    [invoice] = wait_for(invoicing.invoices, what="one invoice")
    assert invoice["kind"] == "invoice"
    assert invoice["status"] == "issued"
    assert invoice["currency"] == "SEK"
    assert [(line["network"], line["amount"]) for line in invoice["lines"]] == [
        ("rus", "4000.00"), ("ung-region", "4000.00")]
    assert invoice["lines"][0]["description"] == "Medlemsavgift 2018 – RUS-nätverket"
    assert (invoice["net"], invoice["vat"], invoice["total"]) == ("8000.00", "2000.00", "10000.00")
    assert invoice["buyer"]["name"] == "Region Jämtland Härjedalen"
    assert invoice["buyer"]["org_number"] == "232100-0016"
    assert invoice["buyer"]["reference"] == "ABC123"
    assert valid_ocr(invoice["ocr"])
    issue_date = invoice["issue_date"]
    assert invoice["number"].startswith(issue_date[:4] + "-")
    assert date.fromisoformat(invoice["due_date"]) - date.fromisoformat(issue_date) == timedelta(days=30)

    [issued] = wait_for(invoicing.issued_events, what="invoice.issued on reglab.invoicing")
    assert issued.number == invoice["number"]
    assert issued.correlation_id == event.correlation_id
    assert issued.signup_id == 1
    assert str(issued.total) == "10000.00"
    assert [line.network_code for line in issued.lines] == ["rus", "ung-region"]
    text = pdf_text(base64.b64decode(issued.pdf_base64))
    for expected in ("Faktura".upper(), invoice["number"], "10 000,00", "Region Jämtland Härjedalen",
                     "Östersund", "Er referens ABC123", "RUS-nätverket", "Ung region", invoice["ocr"]):
        assert expected in text

    decisions = invoicing.decisions()
    assert [(d.network_code, d.outcome, d.invoice_number) for d in decisions] == [
        ("rus", "invoiced", invoice["number"]), ("analytiker", "exempt", None),
        ("ung-region", "invoiced", invoice["number"]), ("smart-specialisering", "exempt", None)]
    assert decisions[1].reason.startswith("Samarrangemang")
    assert decisions[3].reason == "Marginell verksamhet"

    stored = invoicing.client.get(f"/api/v1/invoices/{invoice['number']}.pdf", headers=AUTH)
    assert stored.content == base64.b64decode(issued.pdf_base64), "finance downloads what the buyer got"


def test_a_signup_for_exempt_networks_only_gets_no_invoice_but_each_exemption_is_recorded(
        invoicing: Invoicing) -> None:
    event = signup_event(2, [(21, "kompetensforsorjning"), (22, "utvardering")])
    publish(invoicing.redis_url, event)
    wait_for(lambda: invoicing.handled(event), what="sign-up handled")

    assert invoicing.invoices() == []
    assert invoicing.issued_events() == []
    assert [(d.membership_id, d.outcome, d.amount) for d in invoicing.decisions()] == [
        (21, "exempt", None), (22, "exempt", None)]


def test_the_same_event_delivered_twice_makes_one_invoice(invoicing: Invoicing) -> None:
    event = signup_event(3, [(31, "rus")])
    publish(invoicing.redis_url, event, event)  # the relay re-publishes after a crash
    later = signup_event(4, [(41, "integration")], organisation_id=2, org_number="2120000142")
    publish(invoicing.redis_url, later)
    wait_for(lambda: invoicing.handled(event, later), what="both sign-ups handled")
    wait_for(lambda: len(invoicing.issued_events()) == 2, what="two invoice.issued events")

    assert [i["lines"][0]["network"] for i in invoicing.invoices()] == ["rus", "integration"]
    with Session(invoicing.engine) as session:
        assert len(session.exec(select(InvInvoiceLine)).all()) == 2


def test_a_membership_listed_again_in_a_later_signup_is_never_billed_twice(invoicing: Invoicing) -> None:
    first = signup_event(5, [(51, "rus"), (52, "analytiker")])
    publish(invoicing.redis_url, first)
    wait_for(lambda: invoicing.handled(first))
    # Signing up again: the old memberships come back with created=False, one new one is added.
    again = signup_event(6, [(51, "rus"), (52, "analytiker")], created=False)
    more = signup_event(7, [(51, "rus"), (53, "fysisk-planering")])
    publish(invoicing.redis_url, again, more)
    wait_for(lambda: invoicing.handled(again, more))

    invoices = invoicing.invoices()
    assert [[line["network"] for line in i["lines"]] for i in invoices] == [["rus"], ["fysisk-planering"]]
    assert len(invoicing.decisions()) == 3


def test_invoice_numbers_are_unique_and_consecutive_across_signups(invoicing: Invoicing) -> None:
    events = [signup_event(100 + i, [(1000 + i, "rus")], organisation_id=100 + i) for i in range(6)]
    publish(invoicing.redis_url, *events)
    invoices = wait_for(lambda: len(invoicing.invoices()) == 6 and invoicing.invoices(), what="six invoices")

    numbers = [i["number"] for i in invoices]
    series = numbers[0][:4]
    assert numbers == [f"{series}-{n:05d}" for n in range(1, 7)]
    assert len({i["ocr"] for i in invoices}) == 6
    with Session(invoicing.engine) as session:
        sequences = sorted(row.sequence for row in session.exec(select(InvInvoice)))
    assert sequences == [1, 2, 3, 4, 5, 6]


def test_a_buyer_name_with_markup_is_printed_literally_on_the_issued_pdf(invoicing: Invoicing) -> None:
    hostile = "<script>#set text(red) *bold*"
    publish(invoicing.redis_url, signup_event(8, [(81, "rus")], name=hostile))
    [issued] = wait_for(invoicing.issued_events, what="invoice.issued")
    assert hostile in pdf_text(base64.b64decode(issued.pdf_base64))
