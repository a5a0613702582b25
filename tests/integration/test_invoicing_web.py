"""Finance's access to invoices: the token-protected API and the login-protected pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.invoicing.app import create_app
from tests.support.invoicing import (
    AUTH,
    invoicing_settings,
    login,
    pdf_text,
    publish,
    signup_event,
    wait_for,
)
from tests.support.servers import RedisServer

JAMTLAND = "2321000016"
SKANE = "2321000255"


@pytest.fixture
def client(database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    """A running service with three invoices (two buyers) and one exemption."""
    with TestClient(create_app(invoicing_settings(database_url, redis_server.url))) as client:
        publish(redis_server.url,
                signup_event(1, [(1, "rus"), (2, "analytiker")], org_number=JAMTLAND),
                signup_event(2, [(3, "ung-region")], organisation_id=2, org_number=SKANE,
                             name="Region Skåne"),
                signup_event(3, [(4, "integration")], org_number=JAMTLAND))

        def three_invoices() -> bool:
            return len(client.get("/api/v1/invoices", headers=AUTH).json()) == 3

        wait_for(three_invoices, what="three invoices")
        yield client


def test_the_api_refuses_requests_without_a_valid_token(client: TestClient) -> None:
    assert client.get("/api/v1/invoices").status_code == 401
    assert client.get("/api/v1/invoices", headers={"Authorization": "Bearer wrong"}).status_code == 401
    number = client.get("/api/v1/invoices", headers=AUTH).json()[0]["number"]
    assert client.get(f"/api/v1/invoices/{number}.pdf").status_code == 401


def test_the_api_lists_a_buyers_invoices_by_org_number_with_or_without_hyphen(client: TestClient) -> None:
    for query in (JAMTLAND, "232100-0016"):
        invoices = client.get("/api/v1/invoices", params={"org_number": query}, headers=AUTH).json()
        assert [i["buyer"]["org_number"] for i in invoices] == ["232100-0016", "232100-0016"]
        assert [i["total"] for i in invoices] == ["5000.00", "5000.00"]
    [skane] = client.get("/api/v1/invoices", params={"org_number": SKANE}, headers=AUTH).json()
    assert skane["buyer"]["name"] == "Region Skåne"
    assert set(skane) >= {"number", "kind", "status", "issue_date", "due_date", "currency", "lines", "net",
                          "vat", "total", "ocr", "buyer"}
    assert skane["lines"][0].keys() >= {"network", "description", "amount"}
    assert client.get("/api/v1/invoices", params={"org_number": "5566778899"}, headers=AUTH).json() == []


def test_the_api_serves_the_pdf(client: TestClient) -> None:
    invoice = client.get("/api/v1/invoices", headers=AUTH).json()[0]
    response = client.get(f"/api/v1/invoices/{invoice['number']}.pdf", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert invoice["number"] in pdf_text(response.content)
    assert client.get("/api/v1/invoices/1999-99999.pdf", headers=AUTH).status_code == 404
    single = client.get(f"/api/v1/invoices/{invoice['number']}", headers=AUTH)
    assert single.json() == invoice


def test_issued_invoices_cannot_be_changed_or_deleted_through_the_api(client: TestClient) -> None:
    number = client.get("/api/v1/invoices", headers=AUTH).json()[0]["number"]
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, f"/api/v1/invoices/{number}", headers=AUTH).status_code == 405


def test_the_finance_page_needs_a_login(client: TestClient) -> None:
    for path in ("/", "/decisions", "/invoices/2018-00001.pdf"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_after_login_the_finance_page_lists_invoices_with_pdf_links_and_exemptions(
        client: TestClient) -> None:
    login(client)
    invoices = client.get("/api/v1/invoices", headers=AUTH).json()
    page = client.get("/")
    assert page.status_code == 200
    assert "Fakturor" in page.text
    for invoice in invoices:
        assert invoice["number"] in page.text
        assert f'href="/invoices/{invoice["number"]}.pdf"' in page.text
    assert "Region Skåne" in page.text
    assert "5\u00a0000,00\u00a0kr" in page.text
    assert "Avgiftsfria medlemskap" in page.text
    assert "<script" not in page.text.lower(), "no inline scripts (CSP)"

    number = invoices[0]["number"]
    pdf = client.get(f"/invoices/{number}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    detail = client.get(f"/invoices/{number}")
    assert invoices[0]["ocr"] in detail.text
    assert "RUS-nätverket" in detail.text
    assert client.get("/invoices/1999-99999").status_code == 404

    decisions = client.get("/decisions?outcome=exempt")
    assert "Analytikernätverket" in decisions.text
    assert "Samarrangemang" in decisions.text

    searched = client.get("/", params={"org_number": SKANE})
    assert "Region Skåne" in searched.text
    assert "Region Jämtland" not in searched.text
