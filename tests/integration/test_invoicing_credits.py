"""Credit notes, reissue and renewals in the invoicing service, on real Redis and SQLite/PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.invoicing.app import create_app
from services.invoicing.credits import credit_notes_for
from services.invoicing.models import (
    InvCreditLine,
    InvFeeDecision,
    InvInvoice,
    InvInvoiceLine,
    InvMembershipCancellation,
)
from shared.audit import AuditEntry
from shared.consumer import ProcessedEvent
from shared.db import transaction
from shared.events import (
    INVOICING_STREAM,
    Contact,
    EventBase,
    InvoiceIssued,
    MembershipCancelled,
    MembershipInfo,
    MembershipsRenewed,
    utc_now,
)
from tests.support import peppol_rules
from tests.support.invoicing import (
    AUTH,
    NETWORK_NAMES,
    invoicing_settings,
    login,
    pdf_text,
    publish,
    signup_event,
    wait_for,
)
from tests.support.peppol_rules import NS
from tests.support.servers import RedisServer
from tests.support.streams import read_events

CREDIT_NOTE_XSD = Path(__file__).parents[1] / "support" / "ubl-2.1-xsd" / "maindoc" / "UBL-CreditNote-2.1.xsd"
POLICY_2019 = ('year = 2019\nfee = "4500.00"\n'
               '[[exemptions]]\nnetwork = "analytiker"\nreason = "Samarrangemang"\n')


@dataclass
class Invoicing:
    client: TestClient
    engine: Engine
    redis_url: str

    def invoices(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/invoices", headers=AUTH)
        assert response.status_code == 200, response.text
        return list(response.json())

    def handled(self, *events: EventBase) -> bool:
        with Session(self.engine) as session:
            return all(session.get(ProcessedEvent, str(e.event_id)) is not None for e in events)

    def issued(self) -> list[InvoiceIssued]:
        return [e for e in read_events(self.redis_url, INVOICING_STREAM) if isinstance(e, InvoiceIssued)]

    def cancellations(self) -> list[InvMembershipCancellation]:
        with Session(self.engine) as session:
            return list(session.exec(select(InvMembershipCancellation)
                                     .order_by(col(InvMembershipCancellation.id))))


@pytest.fixture
def invoicing(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Invoicing]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"fee_policy_dir": policies})
    app = create_app(settings)
    with TestClient(app, follow_redirects=False) as client:
        yield Invoicing(client, app.state.runtime.engine, redis_server.url)


def cancellation(membership_id: int, code: str, *, organisation_id: int = 1, year: int = 2018,
                 reason: str = "Lämnar nätverket") -> MembershipCancelled:
    organisation = signup_event(0, [], organisation_id=organisation_id).organisation
    return MembershipCancelled(
        occurred_at=utc_now(), correlation_id=f"cancel-{membership_id}", membership_id=membership_id,
        organisation=organisation, network_code=code, network_name=NETWORK_NAMES[code], year=year,
        reason=reason, cancelled_by="kansliet")


def renewal(run_id: int, memberships: list[tuple[int, str]], *,
            organisation_id: int = 1) -> MembershipsRenewed:
    organisation = signup_event(0, [], organisation_id=organisation_id).organisation
    return MembershipsRenewed(
        occurred_at=utc_now(), correlation_id=f"renewal-{run_id}-{organisation_id}", renewal_run_id=run_id,
        organisation=organisation, contact=Contact(name="Örjan Åkesson", email="orjan@region.example"),
        from_year=2018, year=2019,
        memberships=tuple(MembershipInfo(membership_id=mid, network_code=code,
                                         network_name=NETWORK_NAMES[code], year=2019, created=True,
                                         fee_exempt=False)
                          for mid, code in memberships))


def test_a_cancelled_membership_gets_a_credit_note_for_its_line_only_and_only_once(
        invoicing: Invoicing) -> None:
    signup = signup_event(1, [(11, "rus"), (12, "ung-region"), (13, "analytiker")])
    publish(invoicing.redis_url, signup)
    [invoice] = wait_for(invoicing.invoices, what="the sign-up's invoice")

    cancelled = cancellation(12, "ung-region")
    again = cancellation(12, "ung-region", reason="Dubbelklick")  # a second cancellation, its own event
    publish(invoicing.redis_url, cancelled, cancelled, again)
    wait_for(lambda: invoicing.handled(cancelled, again), what="both cancellations handled")

    invoices = invoicing.invoices()
    assert len(invoices) == 2, "one credit note, however often the membership is cancelled"
    original, credit = invoices
    assert original["number"] == invoice["number"] and original["status"] == "partly_credited"
    assert credit["kind"] == "credit_note" and credit["status"] == "issued"
    assert credit["credited_number"] == original["number"]
    assert int(credit["number"][-5:]) == int(original["number"][-5:]) + 1, "the same gap-free series"
    assert [(line["network"], line["amount"]) for line in credit["lines"]] == [("ung-region", "-4000.00")]
    assert (credit["net"], credit["vat"], credit["total"]) == ("-4000.00", "-1000.00", "-5000.00")

    [_, issued] = wait_for(lambda: len(invoicing.issued()) == 2 and invoicing.issued(), what="two events")
    assert (issued.kind, issued.number, issued.credited_number) == ("credit_note", credit["number"],
                                                                    original["number"])
    assert issued.correlation_id == "cancel-12"
    text = pdf_text(base64.b64decode(issued.pdf_base64))
    assert credit["number"] in text and "Ung region" in text

    [record] = invoicing.cancellations()
    assert (record.outcome, record.original_invoice_number, record.credit_note_number, record.reason) == (
        "credited", original["number"], credit["number"], "Lämnar nätverket")

    # The e-invoice of the credit note: a valid Peppol CreditNote referring to the original.
    xml = invoicing.client.get(f"/api/v1/invoices/{credit['number']}.xml", headers=AUTH)
    assert xml.status_code == 200, xml.text
    root = etree.fromstring(xml.content)
    schema = etree.XMLSchema(etree.parse(str(CREDIT_NOTE_XSD)))
    assert schema.validate(root), schema.error_log
    for family, check in peppol_rules.FAMILIES.items():
        assert check(root) == [], family
    assert root.xpath("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()",
                      namespaces=NS) == [original["number"]]


def test_an_exempt_or_never_invoiced_membership_gets_no_credit_note_but_the_decision_is_recorded(
        invoicing: Invoicing) -> None:
    signup = signup_event(2, [(21, "analytiker")])
    waiting = signup_event(3, [(31, "rus")], organisation_id=2, year=2020)  # no 2020 policy: not invoiced
    publish(invoicing.redis_url, signup, waiting)
    wait_for(lambda: invoicing.handled(signup, waiting))
    exempt, unbilled = cancellation(21, "analytiker"), cancellation(31, "rus", organisation_id=2, year=2020)
    publish(invoicing.redis_url, exempt, unbilled)
    wait_for(lambda: invoicing.handled(exempt, unbilled))

    assert invoicing.invoices() == []
    assert invoicing.issued() == []
    assert [(c.membership_id, c.outcome, c.credit_note_number) for c in invoicing.cancellations()] == [
        (21, "exempt", None), (31, "not_invoiced", None)]


@pytest.mark.parametrize(("registered", "year", "kept_total"), [
    ("signup", 2018, "5000.00"),  # one network, 4 000 + VAT
    ("renewal", 2019, "5625.00"),  # one network under 2019's policy, 4 500 + VAT
])
@pytest.mark.parametrize("order", ["signup_first", "cancellation_first"])
def test_a_cancellation_in_either_order_leaves_the_organisation_owing_only_for_what_it_kept(
        invoicing: Invoicing, order: str, registered: str, year: int, kept_total: str) -> None:
    memberships = [(41, "rus"), (42, "integration")]
    # The yearly run's memberships.renewed takes the same path as a sign-up, in both orders.
    signup = signup_event(4, memberships) if registered == "signup" else renewal(1, memberships)
    cancelled = cancellation(42, "integration", year=year)
    first, second = (signup, cancelled) if order == "signup_first" else (cancelled, signup)
    publish(invoicing.redis_url, first)
    wait_for(lambda: invoicing.handled(first))
    publish(invoicing.redis_url, second)
    wait_for(lambda: invoicing.handled(second))

    invoices = invoicing.invoices()
    assert sum(Decimal(i["total"]) for i in invoices) == Decimal(kept_total)
    assert {line["period_start"][:4] for i in invoices for line in i["lines"]} == {str(year)}
    with Session(invoicing.engine) as session:
        decision = session.exec(select(InvFeeDecision).where(InvFeeDecision.membership_id == 42)).one()
    [record] = invoicing.cancellations()
    if order == "signup_first":
        assert [i["kind"] for i in invoices] == ["invoice", "credit_note"]
        assert (decision.outcome, record.outcome) == ("invoiced", "credited")
    else:
        [invoice] = invoices
        assert [line["network"] for line in invoice["lines"]] == ["rus"], "the cancelled one is not invoiced"
        assert (decision.outcome, record.outcome) == ("cancelled", "before_invoicing")
        assert decision.reason == "Medlemskapet avslutades innan det fakturerades"


def test_a_cancellation_that_arrives_before_a_signup_with_only_that_network_means_no_invoice(
        invoicing: Invoicing) -> None:
    cancelled, signup = cancellation(51, "rus"), signup_event(5, [(51, "rus")])
    publish(invoicing.redis_url, cancelled)
    wait_for(lambda: invoicing.handled(cancelled))
    publish(invoicing.redis_url, signup)
    wait_for(lambda: invoicing.handled(signup))
    assert invoicing.invoices() == []


def test_reissue_credits_the_original_and_issues_a_corrected_invoice_in_one_go(invoicing: Invoicing) -> None:
    publish(invoicing.redis_url, signup_event(6, [(61, "rus"), (62, "ung-region")]))
    [original] = wait_for(invoicing.invoices, what="the invoice")

    response = invoicing.client.post(f"/api/v1/invoices/{original['number']}/reissue", headers=AUTH, json={
        "invoice_email": "ekonomi@region.example", "street": "Box 9", "reference": "REF-42",
        "reason": "Ny fakturaadress"})
    assert response.status_code == 201, response.text
    credit, replacement = response.json()["credit_note"], response.json()["invoice"]
    assert credit["kind"] == "credit_note" and credit["total"] == "-10000.00"
    assert replacement["kind"] == "invoice" and replacement["total"] == "10000.00"
    assert replacement["buyer"]["invoice_email"] == "ekonomi@region.example"
    assert replacement["buyer"]["address"]["street"] == "Box 9"
    assert replacement["buyer"]["reference"] == "REF-42"
    assert replacement["buyer"]["address"]["city"] == original["buyer"]["address"]["city"]
    assert [line["network"] for line in replacement["lines"]] == ["rus", "ung-region"]
    numbers = [i["number"] for i in invoicing.invoices()]
    assert numbers == [original["number"], credit["number"], replacement["number"]]
    assert invoicing.invoices()[0]["status"] == "credited"

    events = wait_for(lambda: len(invoicing.issued()) == 3 and invoicing.issued(), what="three events")
    assert [(e.number, e.kind, e.credited_number) for e in events[1:]] == [
        (credit["number"], "credit_note", original["number"]), (replacement["number"], "invoice", None)]
    assert events[2].organisation.invoice_email == "ekonomi@region.example"
    assert events[1].organisation.invoice_email == "faktura@region.example", \
        "the credit goes where the invoice went"

    refused = invoicing.client.post(f"/api/v1/invoices/{original['number']}/credit", headers=AUTH)
    assert refused.status_code == 409
    assert "redan krediterad i sin helhet" in refused.json()["detail"]
    of_credit = invoicing.client.post(f"/api/v1/invoices/{credit['number']}/credit", headers=AUTH)
    assert of_credit.status_code == 409 and "kreditfaktura kan inte krediteras" in of_credit.json()["detail"]
    assert len(invoicing.invoices()) == 3, "a refused credit changes nothing"
    with Session(invoicing.engine) as session:
        subject = f"invoice:{original['number']}"
        acts = session.exec(select(AuditEntry).where(AuditEntry.subject == subject)).all()
        assert [(a.action, a.actor) for a in acts] == [("invoice.reissue", "api-token")]
        assert "Ny fakturaadress" in acts[0].detail
        charges = sorted((line.membership_id, line.charge) for line in session.exec(select(InvInvoiceLine)))
        assert charges == [(61, 0), (61, 1), (62, 0), (62, 1)]
        stored = session.exec(select(InvInvoice).where(InvInvoice.number == original["number"])).one()
        assert [note.number for note in credit_notes_for(session, stored)] == [credit["number"]]

    # A later cancellation credits the membership's line on the invoice that replaced the original.
    cancelled = cancellation(62, "ung-region")
    publish(invoicing.redis_url, cancelled)
    wait_for(lambda: invoicing.handled(cancelled))
    [record] = invoicing.cancellations()
    assert (record.outcome, record.original_invoice_number) == ("credited", replacement["number"])


def test_crediting_a_whole_invoice_twice_is_refused_by_the_rules_and_by_the_database(
        invoicing: Invoicing) -> None:
    publish(invoicing.redis_url, signup_event(7, [(71, "rus")]))
    [original] = wait_for(invoicing.invoices, what="the invoice")
    first = invoicing.client.post(f"/api/v1/invoices/{original['number']}/credit", headers=AUTH,
                                  json={"reason": "Felaktig"})
    assert first.status_code == 201, first.text
    assert first.json()["total"] == "-5000.00"
    assert invoicing.client.post(f"/api/v1/invoices/{original['number']}/credit",
                                 headers=AUTH).status_code == 409

    with pytest.raises(IntegrityError), transaction(invoicing.engine) as session:
        credit_line = session.exec(select(InvCreditLine)).one()
        session.add(InvCreditLine(credit_note_id=credit_line.credit_note_id,
                                  credited_line_id=credit_line.credited_line_id,
                                  original_invoice_id=credit_line.original_invoice_id, membership_id=71,
                                  amount=Decimal("-4000.00")))


def test_the_reissue_page_corrects_the_address_with_a_csrf_protected_form(invoicing: Invoicing) -> None:
    publish(invoicing.redis_url, signup_event(8, [(81, "rus")]))
    [original] = wait_for(invoicing.invoices, what="the invoice")
    path = f"/invoices/{original['number']}/reissue"
    assert invoicing.client.get(path).status_code == 303, "finance only: a login first"
    login(invoicing.client)
    form = invoicing.client.get(path)
    assert form.status_code == 200 and 'value="Box 654"' in form.text
    renewals_link = 'href="http://127.0.0.1:8000/staff/renewals"'
    assert renewals_link in form.text and renewals_link in invoicing.client.get("/").text, \
        "the yearly run is one click from finance's pages"
    fields = {"name": "Region Jämtland Härjedalen", "invoice_email": "faktura@region.example",
              "street": "Kyrkgatan 12", "postal_code": "831 27", "city": "Östersund", "reference": "ABC123"}

    assert invoicing.client.post(path, data={**fields, "csrf_token": "forged"}).status_code == 400
    unchanged = invoicing.client.post(path, data={**fields, "street": "Box 654",
                                                  "csrf_token": invoicing.client.cookies["reglab_csrf"]})
    assert unchanged.status_code == 422 and "Inget är ändrat" in unchanged.text
    assert len(invoicing.invoices()) == 1

    done = invoicing.client.post(path, data={**fields, "csrf_token": invoicing.client.cookies["reglab_csrf"]})
    assert done.status_code == 303
    new_number = done.headers["location"].rsplit("/", 1)[-1]
    [_original, _credit, replacement] = invoicing.invoices()
    assert replacement["number"] == new_number
    assert replacement["buyer"]["address"]["street"] == "Kyrkgatan 12"
    again = invoicing.client.get(path)
    assert "redan krediterad i sin helhet" in again.text and "Ersätter faktura" not in again.text


def test_a_renewal_is_invoiced_like_a_signup_under_the_new_years_policy(invoicing: Invoicing) -> None:
    renewed = renewal(1, [(91, "rus"), (92, "analytiker"), (93, "ung-region")])
    publish(invoicing.redis_url, renewed, renewed)
    wait_for(lambda: invoicing.handled(renewed))

    [invoice] = wait_for(invoicing.invoices, what="the renewal's invoice")
    assert [(line["network"], line["amount"]) for line in invoice["lines"]] == [
        ("rus", "4500.00"), ("ung-region", "4500.00")]
    assert invoice["lines"][0]["description"] == "Medlemsavgift 2019 – RUS-nätverket"
    assert invoice["total"] == "11250.00"
    with Session(invoicing.engine) as session:
        decisions = session.exec(select(InvFeeDecision).order_by(col(InvFeeDecision.membership_id))).all()
    assert [(d.membership_id, d.outcome, d.signup_id) for d in decisions] == [
        (91, "invoiced", None), (92, "exempt", None), (93, "invoiced", None)]
    [issued] = wait_for(invoicing.issued, what="invoice.issued")
    assert (issued.signup_id, issued.correlation_id) == (None, "renewal-1-1")
