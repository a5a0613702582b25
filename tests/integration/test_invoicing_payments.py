"""Payments on real Redis and both databases: BgMax imports, part and over payments, invoice.paid, overdue."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from time import sleep
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.invoicing.app import build_context, create_app
from services.invoicing.models import InvInvoice
from services.invoicing.ocr import ocr_reference
from services.invoicing.overdue import publish_overdue
from services.invoicing.payments.handlers import (
    Actor,
    PaymentError,
    match_payment,
    register_payment,
    unmatched_payments,
)
from services.invoicing.payments.imports import ImportResult, import_bgmax
from services.invoicing.payments.models import InvOverdueNotice, InvPayment, InvPaymentImport
from shared.audit import AuditEntry, entries_for
from shared.clock import FrozenClock
from shared.events import INVOICING_STREAM, InvoiceOverdue, InvoicePaid, MembershipCancelled
from shared.outbox import OutboxMessage
from tests.support.bgmax import Payment, bgmax_file
from tests.support.invoicing import AUTH, invoicing_settings, login, publish, signup_event, wait_for
from tests.support.servers import RedisServer
from tests.support.streams import read_events

FINANCE = Actor("ekonomi", "127.0.0.1")
BANKGIRO = "5050-1055"
# The invoices are issued on this day (the service's clock stands still here).
ISSUED_AT = datetime(2018, 2, 1, 9, 0, tzinfo=UTC)
# A valid OCR reference of an invoice that does not exist.
UNKNOWN_OCR = ocr_reference("2017-00042")


@dataclass
class Service:
    client: TestClient
    engine: Engine
    redis_url: str
    clock: FrozenClock

    def invoices(self) -> list[dict[str, Any]]:
        return list(self.client.get("/api/v1/invoices", headers=AUTH).json())

    def invoice(self, number: str) -> InvInvoice:
        with Session(self.engine) as session:
            found = session.exec(select(InvInvoice).where(InvInvoice.number == number)).one()
        return found

    def paid_events(self) -> list[InvoicePaid]:
        return [e for e in read_events(self.redis_url, INVOICING_STREAM) if isinstance(e, InvoicePaid)]

    def overdue_events(self) -> list[InvoiceOverdue]:
        return [e for e in read_events(self.redis_url, INVOICING_STREAM) if isinstance(e, InvoiceOverdue)]


def start(database_url: str, redis_url: str, **overrides: Any) -> tuple[TestClient, FrozenClock]:
    settings = invoicing_settings(database_url, redis_url).model_copy(update=overrides)
    clock = FrozenClock(ISSUED_AT)
    context = dataclasses.replace(build_context(settings), clock=clock.now)
    return TestClient(create_app(settings, context)), clock


@pytest.fixture
def service(database_url: str, redis_server: RedisServer) -> Iterator[Service]:
    """Two invoices of 5 000,00 kr (4 000 + 25 % VAT), issued 2018-02-01, due 2018-03-03."""
    client, clock = start(database_url, redis_server.url)
    with client:
        publish(redis_server.url, signup_event(1, [(1, "rus")]),
                signup_event(2, [(2, "ung-region")], organisation_id=2, org_number="2321000255",
                             name="Region Skåne"))
        found = Service(client, client.app.state.runtime.engine, redis_server.url, clock)  # type: ignore[attr-defined]
        wait_for(lambda: len(found.invoices()) == 2, what="two invoices")
        yield found


def test_a_bgmax_file_pays_invoices_by_ocr_and_leaves_unknown_references_for_finance(
        service: Service) -> None:
    first, second = service.invoices()
    data = bgmax_file(Payment(first["ocr"], Decimal("5000.00"), "1", name="Region Jämtland"),
                      Payment(second["ocr"], Decimal("2000.00"), "2"),
                      Payment(UNKNOWN_OCR, Decimal("300.00"), "3"),
                      Payment("Faktura 18-2", Decimal("50.00"), "4", reference_code="5"))
    result = import_bgmax(service.engine, data, filename="bgmax.txt", actor=FINANCE, now=ISSUED_AT,
                          receiver_bankgiro=BANKGIRO)
    assert (result.matched, result.unmatched, result.duplicates) == (2, 2, 0)
    assert result.total == Decimal("7350.00")
    assert service.invoice(first["number"]).status == "paid"
    assert service.invoice(second["number"]).status == "partly_paid"
    with Session(service.engine) as session:
        reasons = sorted(p.unmatched_reason for p in unmatched_payments(session))
        assert reasons == [f"Okänt OCR-nummer {UNKNOWN_OCR}",
                           "Referensen Faktura 18-2 är inte ett giltigt OCR-nummer"]
        assert entries_for(session, "payments")[0].action == "payment.import"

    paid = wait_for(service.paid_events, what="invoice.paid on the stream")
    assert [(e.number, e.status, e.paid_amount) for e in paid] == [
        (first["number"], "paid", Decimal("5000.00"))]
    assert paid[0].organisation.org_number == "232100-0016"
    assert paid[0].paid_on == date(2018, 3, 1)


def test_a_payment_for_several_invoices_is_left_for_finance_to_match(service: Service) -> None:
    first, second = service.invoices()
    data = bgmax_file(Payment(first["ocr"], Decimal("10000.00"), "1", extra_references=[second["ocr"]]))
    result = import_bgmax(service.engine, data, filename="flera.txt", actor=FINANCE, now=ISSUED_AT,
                          receiver_bankgiro=BANKGIRO)
    assert (result.matched, result.unmatched) == (0, 1)
    with Session(service.engine) as session:
        [waiting] = unmatched_payments(session)
    assert waiting.unmatched_reason.startswith("Betalningen har flera referenser")
    assert second["ocr"] in waiting.unmatched_reason
    assert service.invoice(first["number"]).status == "issued"
    assert waiting.id is not None
    with pytest.raises(PaymentError, match="större än betalningen"):
        match_payment(service.engine, payment_id=waiting.id, number=first["number"], amount="10 000,01",
                      actor=FINANCE, now=ISSUED_AT)
    match_payment(service.engine, payment_id=waiting.id, number=first["number"], amount="5 000",
                  actor=FINANCE, now=ISSUED_AT)
    with Session(service.engine) as session:
        [rest] = unmatched_payments(session)
    assert rest.amount == Decimal("5000.00") and rest.id is not None
    match_payment(service.engine, payment_id=rest.id, number=second["number"], actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(first["number"]).status == "paid"
    assert service.invoice(second["number"]).status == "paid"


def audit_and_outbox(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every audit entry and every staged event (not whether the relay has sent it yet)."""
    with Session(engine) as session:
        audit = [(e.id, e.action, e.subject, e.detail)
                 for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]
        outbox = [(m.id, m.type, m.event_id, m.payload)
                  for m in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]
    return audit, outbox


def test_importing_the_same_file_twice_changes_nothing(service: Service) -> None:
    first, _second = service.invoices()
    data = bgmax_file(Payment(first["ocr"], Decimal("5000.00"), "1"))
    once = import_bgmax(service.engine, data, filename="a.txt", actor=FINANCE, now=ISSUED_AT,
                        receiver_bankgiro=BANKGIRO)
    after_once = audit_and_outbox(service.engine)
    audit, outbox = after_once
    assert "payment.import" in [entry[1] for entry in audit], "the first import is audited"
    assert "invoice.paid" in [message[1] for message in outbox], "and stages invoice.paid"
    again = import_bgmax(service.engine, data, filename="a.txt", actor=FINANCE, now=ISSUED_AT,
                         receiver_bankgiro=BANKGIRO)
    assert not once.already_imported and again.already_imported
    assert again.import_id == once.import_id
    assert audit_and_outbox(service.engine) == after_once, "the second import wrote no audit entry or event"
    # The same payment in another file (a new timestamp makes another hash) is not counted again.
    resent = bgmax_file(Payment(first["ocr"], Decimal("5000.00"), "1"), timestamp="20180302080000000000")
    third = import_bgmax(service.engine, resent, filename="b.txt", actor=FINANCE, now=ISSUED_AT,
                         receiver_bankgiro=BANKGIRO)
    assert (third.already_imported, third.matched, third.duplicates) == (False, 0, 1)
    with Session(service.engine) as session:
        assert len(session.exec(select(InvPayment)).all()) == 1
        assert len(session.exec(select(InvPaymentImport)).all()) == 2
    assert service.invoice(first["number"]).status == "paid"
    assert [o[1] for o in audit_and_outbox(service.engine)[1]].count("invoice.paid") == 1


def test_a_malformed_file_imports_nothing_and_says_which_line(service: Service) -> None:
    first, _second = service.invoices()
    good = bgmax_file(Payment(first["ocr"], Decimal("5000.00"), "1"))
    broken = good.replace(b"SEK00000001", b"SEK00000009")  # the deposit claims nine payments
    with pytest.raises(PaymentError, match=r"Rad 4: Insättningen anger 9 betalningar"):
        import_bgmax(service.engine, broken, filename="x.txt", actor=FINANCE, now=ISSUED_AT,
                     receiver_bankgiro=BANKGIRO)
    with pytest.raises(PaymentError, match="bankgiro 50501055, inte vårt"):
        import_bgmax(service.engine, good, filename="x.txt", actor=FINANCE, now=ISSUED_AT,
                     receiver_bankgiro="991-2346")
    with Session(service.engine) as session:
        assert session.exec(select(InvPayment)).all() == []
        assert session.exec(select(InvPaymentImport)).all() == []
    assert service.invoice(first["number"]).status == "issued"


def test_part_payments_add_up_to_paid_and_more_makes_it_overpaid_with_one_invoice_paid_event(
        service: Service) -> None:
    first, _second = service.invoices()
    number = first["number"]
    register_payment(service.engine, number=number, amount="1 234,50", paid_on="2018-02-10", reference="x",
                     actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(number).status == "partly_paid"
    register_payment(service.engine, number=number, amount="3765.50", paid_on="2018-02-20", reference="",
                     actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(number).status == "paid"
    register_payment(service.engine, number=number, amount="100", paid_on="2018-02-21", reference="",
                     actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(number).status == "overpaid"
    paid = wait_for(service.paid_events, what="invoice.paid")
    assert [(e.status, e.paid_amount, e.paid_on) for e in paid] == [
        ("paid", Decimal("5000.00"), date(2018, 2, 20))]
    with Session(service.engine) as session:
        assert [e.action for e in entries_for(session, f"invoice:{number}")] == ["payment.register"] * 3


def test_an_amount_in_the_wrong_format_is_refused_and_nothing_is_stored(service: Service) -> None:
    number = service.invoices()[0]["number"]
    for amount, words in (("12,3,4", "inget belopp"), ("1.234,50", "inget belopp"), ("0", "större än noll"),
                          ("", "Ange ett belopp")):
        with pytest.raises(PaymentError, match=words):
            register_payment(service.engine, number=number, amount=amount, paid_on="2018-02-10",
                             reference="", actor=FINANCE, now=ISSUED_AT)
    with pytest.raises(PaymentError, match="ÅÅÅÅ-MM-DD"):
        register_payment(service.engine, number=number, amount="10", paid_on="10/2 2018", reference="",
                         actor=FINANCE, now=ISSUED_AT)
    with pytest.raises(PaymentError, match="finns inte"):
        register_payment(service.engine, number="1999-00001", amount="10", paid_on="2018-02-10",
                         reference="", actor=FINANCE, now=ISSUED_AT)
    other = service.invoices()[1]
    with pytest.raises(PaymentError, match=f"OCR-numret {other['ocr']} hör till faktura {other['number']}"):
        register_payment(service.engine, number=number, amount="10", paid_on="2018-02-10",
                         reference=other["ocr"], actor=FINANCE, now=ISSUED_AT)
    with pytest.raises(PaymentError, match=f"Okänt OCR-nummer {UNKNOWN_OCR}"):
        register_payment(service.engine, number=number, amount="10", paid_on="2018-02-10",
                         reference=UNKNOWN_OCR, actor=FINANCE, now=ISSUED_AT)
    with Session(service.engine) as session:
        assert session.exec(select(InvPayment)).all() == []


def test_finance_matches_an_unmatched_payment_by_hand(service: Service) -> None:
    first, _second = service.invoices()
    import_bgmax(service.engine, bgmax_file(Payment("12345", Decimal("5000.00"), "7")), filename="c.txt",
                 actor=FINANCE, now=ISSUED_AT, receiver_bankgiro=BANKGIRO)
    with Session(service.engine) as session:
        [waiting] = unmatched_payments(session)
    assert waiting.id is not None
    assert "reglab_unmatched_payments 1.0" in service.client.get("/metrics").text
    with pytest.raises(PaymentError, match="finns inte"):
        match_payment(service.engine, payment_id=waiting.id, number="2017-99999", actor=FINANCE,
                      now=ISSUED_AT)
    match_payment(service.engine, payment_id=waiting.id, number=first["number"], actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(first["number"]).status == "paid"
    with pytest.raises(PaymentError, match="redan matchad"):
        match_payment(service.engine, payment_id=waiting.id, number=first["number"], actor=FINANCE,
                      now=ISSUED_AT)
    with Session(service.engine) as session:
        assert unmatched_payments(session) == []
        assert entries_for(session, f"invoice:{first['number']}")[0].action == "payment.match"
    assert "reglab_unmatched_payments 0.0" in service.client.get("/metrics").text
    assert [e.number for e in wait_for(service.paid_events, what="invoice.paid")] == [first["number"]]


def test_overdue_is_published_once_per_invoice_and_day_and_not_for_paid_invoices(service: Service) -> None:
    first, second = service.invoices()
    due = date.fromisoformat(first["due_date"])
    register_payment(service.engine, number=second["number"], amount="5000,00", paid_on="2018-02-10",
                     reference="", actor=FINANCE, now=ISSUED_AT)
    now = datetime.combine(due, time(12), tzinfo=UTC)
    assert publish_overdue(service.engine, due, now) == [], "on the due date it is not yet overdue"
    assert publish_overdue(service.engine, due + timedelta(days=1), now) == [first["number"]]
    assert publish_overdue(service.engine, due + timedelta(days=1), now) == []
    assert publish_overdue(service.engine, due + timedelta(days=2), now) == [first["number"]]
    events = wait_for(lambda: len(service.overdue_events()) == 2 and service.overdue_events(),
                      what="two invoice.overdue")
    assert [(e.number, e.as_of, e.outstanding) for e in events] == [
        (first["number"], due + timedelta(days=1), Decimal("5000.00")),
        (first["number"], due + timedelta(days=2), Decimal("5000.00"))]
    with Session(service.engine) as session:
        assert len(session.exec(select(InvOverdueNotice)).all()) == 2
    service.clock.set(now + timedelta(days=1))
    login(service.client)
    listed = service.client.get("/", params={"status": "overdue"}).text
    assert first["number"] in listed and second["number"] not in listed
    timeline = service.client.get(f"/invoices/{first['number']}").text
    assert "Förfallen" in timeline and "(invoice.overdue skickat)" in timeline


def test_the_background_loop_publishes_overdue_once_a_day_as_the_clock_moves(
        database_url: str, redis_server: RedisServer) -> None:
    client, clock = start(database_url, redis_server.url, overdue_check_seconds=0.1)
    with client:
        publish(redis_server.url, signup_event(1, [(1, "rus")]))
        engine = client.app.state.runtime.engine  # type: ignore[attr-defined]

        def overdue() -> list[InvoiceOverdue]:
            events = read_events(redis_server.url, INVOICING_STREAM)
            return [e for e in events if isinstance(e, InvoiceOverdue)]

        [invoice] = wait_for(lambda: client.get("/api/v1/invoices", headers=AUTH).json(), what="an invoice")
        due = date.fromisoformat(invoice["due_date"])
        clock.set(datetime.combine(due + timedelta(days=1), time(8), tzinfo=UTC))
        wait_for(lambda: len(overdue()) == 1, what="the first invoice.overdue")
        with Session(engine) as session:  # several more turns of the loop on the same day
            wait_for(lambda: len(session.exec(select(InvOverdueNotice)).all()) == 1, what="one notice")
        sleep(0.5)
        assert len(overdue()) == 1, "the same day publishes nothing more"
        clock.advance(timedelta(days=1))
        wait_for(lambda: len(overdue()) == 2, what="the next day's invoice.overdue")
        assert [e.as_of for e in overdue()] == [due + timedelta(days=1), due + timedelta(days=2)]


def run_overdue_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVOICING_DATABASE_URL": database_url, "REGLAB_ENV": "development"}
    return subprocess.run([sys.executable, "-m", "services.invoicing", "overdue", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_overdue_command_publishes_a_days_notices_once(service: Service, database_url: str) -> None:
    first, second = service.invoices()
    day_after = (date.fromisoformat(first["due_date"]) + timedelta(days=1)).isoformat()
    ran = run_overdue_command(database_url, "--as-of", day_after)
    assert ran.returncode == 0, ran.stderr
    assert f"förfallen: {first['number']}" in ran.stdout and f"förfallen: {second['number']}" in ran.stdout
    again = run_overdue_command(database_url, "--as-of", day_after)
    assert again.returncode == 0 and "0 fakturor förfallna" in again.stdout
    events = wait_for(lambda: len(service.overdue_events()) == 2 and service.overdue_events(),
                      what="the command's events relayed by the service")
    assert {e.number for e in events} == {first["number"], second["number"]}
    bad = run_overdue_command(database_url, "--as-of", "1 april")
    assert bad.returncode == 2 and "ÅÅÅÅ-MM-DD" in bad.stderr


def test_scripts_register_import_list_and_match_payments_through_the_api(service: Service) -> None:
    first, second = service.invoices()
    client = service.client
    assert client.get("/api/v1/payments").status_code == 401
    bad = client.post(f"/api/v1/invoices/{first['number']}/payments", headers=AUTH,
                      json={"amount": "5 000 kr", "paid_on": "2018-03-01"})
    assert bad.status_code == 422 and "är inget belopp" in bad.json()["detail"]
    made = client.post(f"/api/v1/invoices/{first['number']}/payments", headers=AUTH,
                       json={"amount": "5 000,00", "paid_on": "2018-03-01", "reference": first["ocr"]})
    assert made.status_code == 201, made.text
    assert made.json()["invoice_number"] == first["number"]

    data = bgmax_file(Payment("okänd referens", Decimal("5000.00"), "9"))
    imported = client.post("/api/v1/payments/bgmax", params={"filename": "morgon.txt"}, content=data,
                           headers=AUTH)
    assert imported.status_code == 200
    assert (imported.json()["matched"], imported.json()["unmatched"]) == (0, 1)
    assert client.post("/api/v1/payments/bgmax", content=data, headers=AUTH).json()["already_imported"]
    malformed = client.post("/api/v1/payments/bgmax", content=data[:-20], headers=AUTH)
    assert malformed.status_code == 422 and "Rad" in malformed.json()["detail"]

    [waiting] = client.get("/api/v1/payments", params={"unmatched": "true"}, headers=AUTH).json()
    assert waiting["unmatched_reason"].endswith("inte ett giltigt OCR-nummer")
    matched = client.post(f"/api/v1/payments/{waiting['id']}/match", headers=AUTH,
                          json={"invoice_number": second["number"]})
    assert matched.json()["invoice_number"] == second["number"]
    assert client.get("/api/v1/payments", params={"unmatched": "true"}, headers=AUTH).json() == []
    statuses = {i["number"]: i["status"] for i in service.invoices()}
    assert statuses == {first["number"]: "paid", second["number"]: "paid"}
    events = wait_for(lambda: len(service.paid_events()) == 2 and service.paid_events(),
                      what="two invoice.paid")
    assert {e.number for e in events} == {first["number"], second["number"]}


def test_two_imports_of_one_file_at_once_store_it_once(service: Service) -> None:
    first, second = service.invoices()
    data = bgmax_file(Payment(first["ocr"], Decimal("5000.00"), "1"),
                      Payment(second["ocr"], Decimal("1.00"), "2"))
    barrier = threading.Barrier(2)

    def run() -> ImportResult:
        barrier.wait()
        return import_bgmax(service.engine, data, filename="samtidigt.txt", actor=FINANCE, now=ISSUED_AT,
                            receiver_bankgiro=BANKGIRO)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _i: run(), range(2)))
    assert sorted(r.already_imported for r in results) == [False, True]
    assert len({r.import_id for r in results}) == 1
    with Session(service.engine) as session:
        assert len(session.exec(select(InvPayment)).all()) == 2
    assert len(wait_for(service.paid_events, what="invoice.paid")) == 1


def test_two_instances_checking_overdue_at_once_publish_each_invoice_once(service: Service) -> None:
    first, _second = service.invoices()
    as_of = date.fromisoformat(first["due_date"]) + timedelta(days=1)
    now = datetime.combine(as_of, time(6), tzinfo=UTC)
    barrier = threading.Barrier(2)

    def run() -> list[str]:
        barrier.wait()
        return publish_overdue(service.engine, as_of, now)

    with ThreadPoolExecutor(2) as pool:
        published = [number for result in pool.map(lambda _i: run(), range(2)) for number in result]
    assert sorted(published) == sorted(i["number"] for i in service.invoices())
    with Session(service.engine) as session:
        assert len(session.exec(select(InvOverdueNotice)).all()) == 2


ODD_POLICY = """
year = 2019
fee = "1234.55"
vat_treatment = "outside_scope"
vat_note = "Avgiften ligger utanför mervärdesskattelagens tillämpningsområde."
"""


def test_with_oresavrundning_payments_are_measured_against_the_rounded_amount(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "2019.toml").write_text(ODD_POLICY, encoding="utf-8")
    client, _clock = start(database_url, redis_server.url, fee_policy_dir=policies, round_to_krona=True)
    with client:
        publish(redis_server.url, signup_event(1, [(1, "rus")], year=2019))
        engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
        [invoice] = wait_for(lambda: client.get("/api/v1/invoices", headers=AUTH).json(), what="an invoice")
        assert invoice["total"] == "1234.55"
        number = invoice["number"]
        register_payment(engine, number=number, amount="1234,55", paid_on="2019-02-10", reference="",
                         actor=FINANCE, now=ISSUED_AT)
        with Session(engine) as session:
            assert session.exec(select(InvInvoice.status).where(InvInvoice.number == number)).one() == \
                "partly_paid", "1 234,55 is not yet the 1 235,00 asked for"
        due = date.fromisoformat(invoice["due_date"])
        publish_overdue(engine, due + timedelta(days=1), ISSUED_AT)
        register_payment(engine, number=number, amount="0,45", paid_on="2019-02-11", reference="",
                         actor=FINANCE, now=ISSUED_AT)
        with Session(engine) as session:
            assert session.exec(select(InvInvoice.status).where(InvInvoice.number == number)).one() == "paid"

        def events() -> list[Any]:
            return [e for e in read_events(redis_server.url, INVOICING_STREAM)
                    if isinstance(e, InvoicePaid | InvoiceOverdue)]

        overdue, paid = wait_for(lambda: len(events()) == 2 and events(), what="overdue and paid")
        assert (overdue.total, overdue.outstanding) == (Decimal("1235.00"), Decimal("0.45"))
        assert (paid.total, paid.paid_amount) == (Decimal("1235.00"), Decimal("1235.00"))
        login(client)
        sie = client.get("/exports/verifikationer.se").content.decode("cp437")
        assert "#TRANS 1510 {} 1235.00" in sie and "#TRANS 3740 {} -0.45" in sie
        assert "#TRANS 3010 {} -1234.55" in sie


def test_a_partly_credited_invoice_is_paid_by_what_remains_and_a_fully_credited_one_is_never_overdue(
        service: Service) -> None:
    """Credit notes come from cancellations and finance's "Kreditera" (services.invoicing.credits)."""
    publish(service.redis_url, signup_event(3, [(31, "rus"), (32, "ung-region")], organisation_id=3,
                                            org_number="2120000142", name="Region Exempel"))
    wait_for(lambda: len(service.invoices()) == 3, what="the two-network invoice")
    two = next(i for i in service.invoices() if len(i["lines"]) == 2)
    single = next(i for i in service.invoices() if i["number"] != two["number"] and i["kind"] == "invoice")
    organisation = signup_event(0, [], organisation_id=3).organisation
    publish(service.redis_url, MembershipCancelled(
        occurred_at=ISSUED_AT, correlation_id="cancel-32", membership_id=32, organisation=organisation,
        network_code="ung-region", network_name="Ung region", year=2018, reason="Lämnar",
        cancelled_by="kansliet"))
    wait_for(lambda: service.invoice(two["number"]).status == "partly_credited",
             what="the partial credit")
    credited = service.client.post(f"/api/v1/invoices/{single['number']}/credit", headers=AUTH,
                                   json={"reason": "Fel organisation"})
    assert credited.status_code == 201, credited.text

    register_payment(service.engine, number=two["number"], amount="5 000,00", paid_on="2018-02-20",
                     reference="", actor=FINANCE, now=ISSUED_AT)
    assert service.invoice(two["number"]).status == "paid", "10 000 less the 5 000 credited is paid"
    paid = wait_for(service.paid_events, what="invoice.paid")
    assert [(e.number, e.paid_amount) for e in paid] == [(two["number"], Decimal("5000.00"))]

    due = date.fromisoformat(two["due_date"])
    assert publish_overdue(service.engine, due + timedelta(days=1), ISSUED_AT) == [
        i["number"] for i in service.invoices()
        if i["kind"] == "invoice" and i["number"] not in (two["number"], single["number"])]
    assert service.invoice(single["number"]).status == "credited"


def test_a_payment_id_too_large_for_the_database_is_a_422_not_a_500(service: Service) -> None:
    response = service.client.post(f"/api/v1/payments/{2**40}/match", headers=AUTH,
                                    json={"invoice_number": "2018-00001"})
    assert response.status_code == 422
