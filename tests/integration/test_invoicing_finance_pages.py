"""Finance's pages through the TestClient, logged in through the /login form: every page and action."""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.invoicing.app import create_app
from services.invoicing.overdue import publish_overdue
from services.invoicing.payments.models import InvNetworkCost, InvPayment
from shared.events import MembershipCancelled, utc_now
from tests.support.bgmax import Payment, bgmax_file
from tests.support.invoicing import AUTH, invoicing_settings, login, publish, signup_event, wait_for
from tests.support.servers import RedisServer

SKANE = "2321000255"


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    """Logged in; invoices for Jämtland (RUS-nätverket) and Skåne (Ung region), one exemption."""
    with TestClient(create_app(invoicing_settings(database_url, redis_server.url))) as client:
        publish(redis_server.url,
                signup_event(1, [(1, "rus"), (2, "analytiker")]),
                signup_event(2, [(3, "ung-region")], organisation_id=2, org_number=SKANE,
                             name="Region Skåne"))
        wait_for(lambda: len(client.get("/api/v1/invoices", headers=AUTH).json()) == 2, what="two invoices")
        login(client)
        yield client


def invoices(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/invoices", headers=AUTH).json())


def token(page_html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def engine_of(client: TestClient) -> Any:
    return client.app.state.runtime.engine  # type: ignore[attr-defined]


def test_every_finance_page_needs_a_login(database_url: str, redis_server: RedisServer) -> None:
    with TestClient(create_app(invoicing_settings(database_url, redis_server.url))) as anonymous:
        for path in ("/", "/payments", "/exports", "/summary", "/exports/fakturor.csv",
                     "/invoices/2018-00001"):
            response = anonymous.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        for path in ("/payments/import", "/summary/costs", "/invoices/2018-00001/payments"):
            assert anonymous.post(path, follow_redirects=False).status_code == 303, path


def test_the_invoice_list_filters_by_year_status_network_and_organisation(client: TestClient) -> None:
    jamtland, skane = invoices(client)
    year = jamtland["issue_date"][:4]
    page = client.get("/", params={"year": year}).text
    assert jamtland["number"] in page and skane["number"] in page
    assert skane["number"] not in client.get("/", params={"network": "rus"}).text
    assert jamtland["number"] in client.get("/", params={"network": "rus"}).text
    by_name = client.get("/", params={"organisation": "skåne"}).text
    assert skane["number"] in by_name and jamtland["number"] not in by_name
    assert skane["number"] in client.get("/", params={"organisation": "232100-0255"}).text
    assert "Inga fakturor matchar urvalet" in client.get("/", params={"status": "paid"}).text
    assert "Inga fakturor matchar urvalet" in client.get("/", params={"year": "1999"}).text
    assert "Inga fakturor matchar urvalet" in client.get("/", params={"status": "overdue"}).text
    assert jamtland["number"] in client.get("/", params={"status": "issued"}).text
    assert "5\u00a0000,00\u00a0kr" in page, "what is still owed is listed"
    # A year that str.isdigit() takes but int() does not is no filter, not a 500.
    superscript = client.get("/", params={"year": "201²"})
    assert superscript.status_code == 200 and jamtland["number"] in superscript.text


def test_the_invoice_page_shows_lines_timeline_links_and_the_actions(client: TestClient) -> None:
    invoice = invoices(client)[0]
    page = client.get(f"/invoices/{invoice['number']}")
    assert page.status_code == 200
    html = page.text
    assert "RUS-nätverket" in html and invoice["ocr"] in html
    assert f'href="/invoices/{invoice["number"]}.pdf"' in html
    assert f'href="/api/v1/invoices/{invoice["number"]}.xml"' in html
    assert f'action="/invoices/{invoice["number"]}/payments"' in html
    assert f'action="/invoices/{invoice["number"]}/credit"' in html
    assert f'href="/invoices/{invoice["number"]}/reissue"' in html
    assert "Händelser" in html and "Utställd" in html
    assert "<script" not in html.lower()


def timeline_of(page_html: str) -> list[tuple[str, str, str]]:
    """The invoice page's "Händelser": (what, detail, link) per entry, oldest first."""
    match = re.search(r'<ol class="timeline">(.*?)</ol>', page_html, re.S)
    assert match, "the page has a timeline"
    entries = []
    for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S):
        parts = re.fullmatch(r"\s*<span[^>]*>[^<]*</span>\s*<strong>(.*?)</strong>(.*)", item, re.S)
        assert parts, item
        what, rest = parts.groups()
        link = re.search(r'href="([^"]+)"', rest)
        detail = " ".join(html.unescape(re.sub(r"<[^>]+>", "", rest)).split())
        entries.append((html.unescape(what), detail, link.group(1) if link else ""))
    return entries


def buyer_box(page_html: str) -> dict[str, str]:
    """The "Köpare" box: each fact's label and its text."""
    match = re.search(r'<section class="card" id="buyer">(.*?)</section>', page_html, re.S)
    assert match, "the page shows the buyer"
    return {html.unescape(label): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", value)).split())
            for label, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", match.group(1), re.S)}


def test_the_invoice_page_shows_payment_overdue_notice_credit_and_reissue_and_the_buyer_as_invoiced(
        client: TestClient) -> None:
    jamtland, skane = invoices(client)
    number = jamtland["number"]
    page = client.get(f"/invoices/{number}").text
    assert buyer_box(page) == {
        "Namn": "Region Jämtland Härjedalen", "Org.nr": "232100-0016", "Adress": "Box 654 831 27 Östersund",
        "E-post för faktura": "faktura@region.example", "Er referens": "ABC123"}
    assert client.post(f"/invoices/{number}/payments", data={
        "csrf_token": token(page), "amount": "1000", "paid_on": jamtland["issue_date"], "reference": ""},
        follow_redirects=False).status_code == 303
    day_after_due = date.fromisoformat(jamtland["due_date"]) + timedelta(days=1)
    assert publish_overdue(engine_of(client), day_after_due, utc_now()) == [number, skane["number"]]
    credited = client.post(f"/invoices/{number}/credit", data={"csrf_token": token(page), "reason": "Fel år"},
                           follow_redirects=False)
    assert credited.status_code == 303
    note = credited.headers["location"].rsplit("/", 1)[-1]

    entries = timeline_of(client.get(f"/invoices/{number}").text)
    assert [what for what, _, _ in entries] == [
        "Utställd", "Betalning", "Logg: payment.register", "Förfallen", "Kreditfaktura",
        "Logg: invoice.credit"]
    by_what = {what: (detail, link) for what, detail, link in entries}
    assert by_what["Betalning"][0] == f"1 000,00 kr betald {jamtland['issue_date']}, registrerad för hand"
    assert by_what["Förfallen"][0] == (f"{day_after_due.isoformat()}: 4 000,00 kr obetalt "
                                       "(invoice.overdue skickat)")
    assert by_what["Kreditfaktura"] == (f"{note}: \u22125 000,00 kr", f"/invoices/{note}")
    assert by_what["Logg: invoice.credit"][0] == f"ekonomi: Kreditfaktura {note}. Fel år"
    note_page = client.get(f"/invoices/{note}").text
    assert ("Krediterar", number, f"/invoices/{number}") in timeline_of(note_page)
    assert buyer_box(note_page)["Adress"] == "Box 654 831 27 Östersund"

    original = skane["number"]
    form = client.get(f"/invoices/{original}/reissue").text
    reissued = client.post(f"/invoices/{original}/reissue", data={
        "csrf_token": token(form), "name": "Region Skåne", "invoice_email": "faktura@region.example",
        "street": "Dockplatsen 26", "postal_code": "211 19", "city": "Malmö", "reference": "ABC123",
        "reason": "Ny adress"}, follow_redirects=False)
    assert reissued.status_code == 303
    replacement = reissued.headers["location"].rsplit("/", 1)[-1]
    before = client.get(f"/invoices/{original}").text
    entries = timeline_of(before)
    assert [what for what, _, _ in entries] == [
        "Utställd", "Förfallen", "Kreditfaktura", "Ersatt av", "Logg: invoice.reissue"]
    assert entries[3][1:] == (f"Faktura {replacement}", f"/invoices/{replacement}")
    assert entries[4][1].startswith("ekonomi: Krediterad med ")
    assert entries[4][1].endswith(f", ersatt av {replacement}. Ny adress")
    assert buyer_box(before)["Adress"] == "Box 654 831 27 Östersund", "the original keeps its buyer"
    after = client.get(f"/invoices/{replacement}").text
    assert ("Ersätter", f"Faktura {original}", f"/invoices/{original}") in timeline_of(after)
    assert ("Logg: invoice.reissue", f"ekonomi: Ersätter faktura {original}. Ny adress", "") in \
        timeline_of(after)
    assert buyer_box(after) == {
        "Namn": "Region Skåne", "Org.nr": "232100-0255", "Adress": "Dockplatsen 26 211 19 Malmö",
        "E-post för faktura": "faktura@region.example", "Er referens": "ABC123"}


def test_registering_a_payment_on_the_invoice_page_changes_its_status_and_timeline(
        client: TestClient) -> None:
    number = invoices(client)[0]["number"]
    page = client.get(f"/invoices/{number}")
    response = client.post(f"/invoices/{number}/payments", data={
        "csrf_token": token(page.text), "amount": "1 000,00", "paid_on": "2018-03-01", "reference": "OCR"},
        follow_redirects=False)
    assert response.status_code == 303
    after = client.get(response.headers["location"]).text
    assert "Betalningen är registrerad." in after
    assert "Delbetald" in after
    assert "1\u00a0000,00\u00a0kr betald 2018-03-01" in after
    assert "payment.register" in after, "the audit entry is shown on the invoice's page"
    assert "4\u00a0000,00\u00a0kr" in after  # still to pay


def test_a_payment_with_a_bad_amount_or_without_the_csrf_token_is_refused_and_nothing_is_stored(
        client: TestClient) -> None:
    number = invoices(client)[0]["number"]
    csrf = token(client.get(f"/invoices/{number}").text)
    bad = client.post(f"/invoices/{number}/payments",
                      data={"csrf_token": csrf, "amount": "tusen", "paid_on": "2018-03-01", "reference": ""})
    assert bad.status_code == 400
    assert "är inget belopp" in bad.text
    assert 'value="tusen"' in bad.text, "what finance typed is kept in the form"
    forged = client.post(f"/invoices/{number}/payments",
                         data={"csrf_token": "forged", "amount": "100", "paid_on": "2018-03-01"})
    assert forged.status_code == 400
    assert "Formuläret har gått ut" in forged.text
    with Session(engine_of(client)) as session:
        assert session.exec(select(InvPayment)).all() == []


def test_importing_a_bgmax_file_on_the_payments_page_and_matching_the_rest_by_hand(
        client: TestClient) -> None:
    jamtland, skane = invoices(client)
    data = bgmax_file(Payment(jamtland["ocr"], Decimal("5000.00"), "1"),
                      Payment("Region Skåne avgift", Decimal("5000.00"), "2", name="Region Skåne"))
    csrf = token(client.get("/payments").text)
    upload = client.post("/payments/import", data={"csrf_token": csrf},
                         files={"file": ("bgmax.txt", data, "text/plain")})
    assert upload.status_code == 200, upload.text
    assert "1 betalningar matchade på OCR, 1 att matcha för hand" in upload.text
    assert "Region Skåne avgift" in upload.text and "inte ett giltigt OCR-nummer" in upload.text
    again = client.post("/payments/import", data={"csrf_token": csrf},
                        files={"file": ("bgmax.txt", data, "text/plain")})
    assert "Filen är redan inläst; inget ändrades." in again.text

    broken = data.replace(b"\r\n70", b"\r\n7X")
    refused = client.post("/payments/import", data={"csrf_token": csrf},
                          files={"file": ("trasig.txt", broken, "text/plain")})
    assert refused.status_code == 400
    assert "Filen lästes inte in: Rad 7" in refused.text

    with Session(engine_of(client)) as session:
        waiting = session.exec(select(InvPayment).where(InvPayment.invoice_id == None)).one()  # noqa: E711
    wrong = client.post(f"/payments/{waiting.id}/match",
                        data={"csrf_token": csrf, "invoice_number": "1999-1"})
    assert wrong.status_code == 400 and "Fakturan 1999-1 finns inte." in wrong.text
    matched = client.post(f"/payments/{waiting.id}/match",
                          data={"csrf_token": csrf, "invoice_number": skane["number"]},
                          follow_redirects=False)
    assert matched.status_code == 303
    detail = client.get(matched.headers["location"]).text
    assert "Betalningen är matchad mot fakturan." in detail and "Betald" in detail
    assert "payment.match" in detail
    payments_page = client.get("/payments").text
    assert "Inga betalningar väntar på matchning." in payments_page
    assert f'href="/invoices/{skane["number"]}"' in payments_page, "the booked payments link their invoice"
    assert "BgMax, OCR" in payments_page and "BgMax, matchad av ekonomi" in payments_page
    assert "payment.import" in payments_page and "payment.match" in payments_page


def test_the_exports_download_csv_sie_and_a_zip_of_the_pdfs_for_a_period(client: TestClient) -> None:
    jamtland, skane = invoices(client)
    year = jamtland["issue_date"][:4]
    period = {"from": f"{year}-01-01", "to": f"{year}-12-31"}
    assert 'formaction="/exports/verifikationer.se"' in client.get("/exports").text

    csv = client.get("/exports/fakturor.csv", params=period)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Nummer;Typ;Status")
    assert f"{jamtland['number']};Faktura;issued" in text and "Region Skåne" in text

    lines = client.get("/exports/fakturarader.csv", params=period).content.decode("utf-8-sig")
    assert f"{jamtland['number']};Faktura;1;rus;RUS-nätverket;2018" in lines

    sie = client.get("/exports/verifikationer.se", params=period)
    assert sie.status_code == 200
    sie_text = sie.content.decode("cp437")
    assert "#SIETYP 4" in sie_text and "#FORMAT PC8" in sie_text
    assert f'#VER "" "" {jamtland["issue_date"].replace("-", "")} "Faktura {jamtland["number"]}' in sie_text
    assert "#TRANS 1510 {} 5000.00" in sie_text and "#TRANS 2611 {} -1000.00" in sie_text

    archive = zipfile.ZipFile(io.BytesIO(client.get("/exports/fakturor.zip", params=period).content))
    assert sorted(archive.namelist()) == sorted(f"faktura-{i['number']}.pdf" for i in (jamtland, skane))
    assert archive.read(f"faktura-{skane['number']}.pdf").startswith(b"%PDF")
    empty = zipfile.ZipFile(io.BytesIO(client.get("/exports/fakturor.zip",
                                                  params={"from": "1999-01-01", "to": "1999-12-31"}).content))
    assert empty.namelist() == []

    bad = client.get("/exports/fakturor.csv", params={"from": "2018-13-01"})
    assert bad.status_code == 400 and "ÅÅÅÅ-MM-DD" in bad.text
    backwards = client.get("/exports/fakturor.csv", params={"from": "2018-12-01", "to": "2018-01-01"})
    assert backwards.status_code == 400 and "efter till-datumet" in backwards.text


def test_the_summary_shows_fees_per_network_and_staff_enter_costs_shown_in_a_chart(
        client: TestClient) -> None:
    # The memberships are for 2018 whatever day the invoices were issued.
    page = client.get("/summary", params={"year": "2018"})
    assert page.status_code == 200
    html = page.text
    assert "RUS-nätverket" in html and "Analytikernätverket" in html and "Ung region" in html
    csrf = token(html)
    saved = client.post("/summary/costs", data={"csrf_token": csrf, "year": "2018", "network": "rus",
                                                "amount": "45 000", "note": "Lokaler\nvår"},
                        follow_redirects=False)
    assert saved.status_code == 303
    after = client.get(saved.headers["location"]).text
    assert "Kostnaden är sparad." in after
    assert "45\u00a0000,00\u00a0kr" in after
    assert "<svg" in after and "bar-costs" in after and "bar-fees" in after
    assert "network_cost.set" in after and "Lokaler vår" in after
    assert "<script" not in after.lower()
    total = client.post("/summary/costs", data={"csrf_token": csrf, "year": "2017", "network": "alla",
                                                "amount": "350000"}, follow_redirects=False)
    assert total.status_code == 303
    assert "350\u00a0000,00\u00a0kr" in client.get("/summary", params={"year": "2017"}).text

    bad = client.post("/summary/costs", data={"csrf_token": csrf, "year": "2018", "network": "rus",
                                              "amount": "45 000 kr"})
    assert bad.status_code == 400 and "är inget belopp" in bad.text
    unknown = client.post("/summary/costs", data={"csrf_token": csrf, "year": "2018", "network": "okänt",
                                                  "amount": "1"})
    assert unknown.status_code == 400 and "Välj ett nätverk" in unknown.text
    with Session(engine_of(client)) as session:
        costs = {(c.year, c.network_code): c.amount for c in session.exec(select(InvNetworkCost))}
    assert costs == {(2018, "rus"): Decimal("45000.00"), (2017, "alla"): Decimal("350000.00")}


ACCOUNTS = {"sie_account_receivable": "1511", "sie_account_revenue": "3891", "sie_account_vat_25": "2614",
            "sie_account_vat_12": "2624", "sie_account_vat_6": "2634", "sie_account_bank": "1941",
            "sie_account_rounding": "3741"}


def vouchers(sie_text: str) -> dict[str, list[tuple[str, str]]]:
    """Each #VER's text and its (account, amount) transactions."""
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in sie_text.splitlines():
        if line.startswith("#VER "):
            current = found.setdefault(line.split('"')[5], [])
        elif line.strip().startswith("#TRANS "):
            _, account, _, amount = line.split()
            current.append((account, amount))
    return found


def test_the_sie_export_posts_to_the_accounts_set_in_the_settings(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    # Every account differs from its BAS default and from the others, so a swap in the mapping shows.
    policies = tmp_path / "policies"
    policies.mkdir()
    for year, fee, rate in ((2018, "3999.99", "0.25"), (2019, "1000.00", "0.12"), (2020, "1000.00", "0.06")):
        (policies / f"{year}.toml").write_text(f'year = {year}\nfee = "{fee}"\nvat_rate = "{rate}"\n',
                                               encoding="utf-8")
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={**ACCOUNTS, "fee_policy_dir": policies, "round_to_krona": True})
    with TestClient(create_app(settings)) as client:
        publish(redis_server.url, *(signup_event(n, [(n, "rus")], year=2017 + n) for n in (1, 2, 3)))
        wait_for(lambda: len(invoices(client)) == 3, what="three invoices")
        # Told apart by what they charge: the order the three events are handled in is not fixed.
        first, second, third = sorted(invoices(client), key=lambda i: Decimal(i["total"]), reverse=True)
        login(client)
        page = client.get(f"/invoices/{first['number']}")
        paid = client.post(f"/invoices/{first['number']}/payments", data={
            "csrf_token": token(page.text), "amount": "1000,00", "paid_on": first["issue_date"],
            "reference": ""}, follow_redirects=False)
        assert paid.status_code == 303
        year = first["issue_date"][:4]
        sie = client.get("/exports/verifikationer.se",
                         params={"from": f"{year}-01-01", "to": f"{year}-12-31"})
        exports_page = client.get("/exports").text
    posted = vouchers(sie.content.decode("cp437"))
    buyer = "Region Jämtland Härjedalen"
    assert posted == {
        f"Faktura {first['number']} {buyer}": [
            ("1511", "5000.00"), ("3891", "-3999.99"), ("2614", "-1000.00"), ("3741", "-0.01")],
        f"Faktura {second['number']} {buyer}": [
            ("1511", "1120.00"), ("3891", "-1000.00"), ("2624", "-120.00")],
        f"Faktura {third['number']} {buyer}": [("1511", "1060.00"), ("3891", "-1000.00"), ("2634", "-60.00")],
        f"Inbetalning faktura {first['number']} {buyer}": [("1941", "1000.00"), ("1511", "-1000.00")],
    }
    shown = set(re.findall(r"<dd>(\d{4})</dd>", exports_page))
    assert shown == set(ACCOUNTS.values()), "the exports page names the same accounts"


def summary_row(page_html: str, code: str) -> list[str]:
    match = re.search(rf'<tr id="network-{code}">(.*?)</tr>', page_html, re.S)
    assert match, f"the summary has a row for {code}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))
    return [" ".join(html.unescape(cell).split()) for cell in cells]


def test_a_membership_cancelled_after_it_was_invoiced_is_counted_as_cancelled_not_fee_liable(
        client: TestClient, redis_server: RedisServer) -> None:
    before = client.get("/summary", params={"year": "2018"}).text
    # Nätverk, Medlemskap, Avgiftsbelagda, Avgiftsfria, Avslutade, Fakturerat, Betalt, Obetalt, ...
    assert summary_row(before, "rus")[:6] == ["RUS-nätverket", "1", "1", "0", "0", "4 000,00 kr"]
    jamtland = signup_event(1, [(1, "rus")]).organisation
    cancelled = MembershipCancelled(
        occurred_at=utc_now(), correlation_id="cancel-1", membership_id=1, organisation=jamtland,
        network_code="rus", network_name="RUS-nätverket", year=2018, reason="Lämnar", cancelled_by="kansliet")
    publish(redis_server.url, cancelled)
    wait_for(lambda: len(invoices(client)) == 3, what="the credit note")

    after = client.get("/summary", params={"year": "2018"}).text
    assert summary_row(after, "rus")[:8] == [
        "RUS-nätverket", "1", "0", "0", "1", "0,00 kr", "0,00 kr", "0,00 kr"]
    assert summary_row(after, "analytiker")[1:5] == ["1", "0", "1", "0"], "the exempt one is untouched"
    totals = re.search(r"<tfoot>(.*?)</tfoot>", after, re.S)
    assert totals and re.findall(r'<td class="num">(\d+)</td>', totals.group(1)) == ["3", "1", "1", "1"]
