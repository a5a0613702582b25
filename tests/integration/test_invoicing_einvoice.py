"""E-invoices end to end: a sign-up on real Redis becomes an invoice whose PDF and UBL agree.

Both VAT treatments go through the running service (SQLite and PostgreSQL):
2018's policy (25 %) as shipped, and a 2019 policy outside the scope of VAT
that finance drops into FEE_POLICY_DIR. ``GET /api/v1/invoices/{number}.xml``
must return valid UBL 2.1 that passes the Peppol rule families.
"""

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

from services.invoicing.app import create_app
from services.invoicing.ocr import valid_ocr
from shared.events import INVOICING_STREAM, InvoiceIssued
from tests.support import peppol_rules
from tests.support.invoicing import AUTH, invoicing_settings, pdf_text, publish, signup_event, wait_for
from tests.support.peppol_rules import NS
from tests.support.servers import RedisServer
from tests.support.streams import read_events

XSD = Path(__file__).parents[1] / "support" / "ubl-2.1-xsd" / "maindoc" / "UBL-Invoice-2.1.xsd"
LEGAL_TEXT = "Avgiften ligger utanför mervärdesskattelagens tillämpningsområde."
POLICY_2019 = f"""
year = 2019
fee = "1234.55"
vat_treatment = "outside_scope"
vat_note = "{LEGAL_TEXT}"
"""


@dataclass
class Service:
    client: TestClient
    redis_url: str

    def invoices(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/invoices", headers=AUTH)
        assert response.status_code == 200, response.text
        return list(response.json())


@pytest.fixture
def service(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Service]:
    (tmp_path / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"fee_policy_dir": tmp_path, "round_to_krona": True})
    with TestClient(create_app(settings)) as client:
        yield Service(client, redis_server.url)


def ubl_of(service: Service, number: str) -> etree._Element:
    response = service.client.get(f"/api/v1/invoices/{number}.xml", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert f'filename="faktura-{number}.xml"' in response.headers["content-disposition"]
    root = etree.fromstring(response.content)
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(root), schema.error_log
    for family, check in peppol_rules.FAMILIES.items():
        assert check(root) == [], family
    return root


def first(root: etree._Element, path: str) -> str:
    found = root.xpath(path, namespaces=NS)
    return str(found[0].text if isinstance(found[0], etree._Element) else found[0]) if found else ""


def test_a_standard_rated_and_an_outside_scope_invoice_agree_in_pdf_api_and_ubl(service: Service) -> None:
    publish(service.redis_url, signup_event(1, [(11, "rus")], year=2018),
            signup_event(2, [(21, "rus"), (22, "ung-region")], year=2019, organisation_id=2,
                         org_number="2120000142", name="Kommun & <Co> \"AB\""))
    standard, outside = wait_for(lambda: len(invoices := service.invoices()) == 2 and invoices,
                                 what="two invoices")

    root = ubl_of(service, standard["number"])
    assert first(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == "S"
    assert first(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent") == "25"
    assert first(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == standard["total"] == "5000.00"
    assert first(root, "cac:PaymentMeans/cbc:PaymentID") == standard["ocr"]
    assert valid_ocr(standard["ocr"])
    assert first(root, "cbc:BuyerReference") == "ABC123"
    assert first(root, "cbc:DueDate") == standard["due_date"]

    root = ubl_of(service, outside["number"])
    subtotal = "cac:TaxTotal/cac:TaxSubtotal/"
    assert first(root, subtotal + "cac:TaxCategory/cbc:ID") == "O"
    assert first(root, subtotal + "cac:TaxCategory/cbc:TaxExemptionReason") == LEGAL_TEXT
    assert first(root, subtotal + "cbc:TaxableAmount") == "2469.10"
    assert first(root, "cac:LegalMonetaryTotal/cbc:PayableRoundingAmount") == "-0.10"
    assert first(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "2469.00"
    buyer_name = first(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name")
    assert buyer_name == "Kommun & <Co> \"AB\""
    assert (outside["vat"], outside["total"]) == ("0.00", "2469.10")
    issued = {e.number: e for e in read_events(service.redis_url, INVOICING_STREAM)
              if isinstance(e, InvoiceIssued)}
    assert issued[outside["number"]].payable == Decimal("2469.00"), "payments are matched against this"
    assert issued[standard["number"]].payable == Decimal("5000.00")

    pdf = service.client.get(f"/api/v1/invoices/{outside['number']}.pdf", headers=AUTH).content
    embedded = first(root, "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
    assert base64.b64decode(embedded) == pdf, "the e-invoice carries the PDF exactly as sent"
    text = pdf_text(pdf)
    for expected in (LEGAL_TEXT, "Öresavrundning −0,10", "Att betala (SEK) 2 469,00", outside["ocr"],
                     "Kommun & <Co> \"AB\""):
        assert expected in text


def test_an_unknown_number_has_no_e_invoice_and_the_route_needs_finance(service: Service) -> None:
    assert service.client.get("/api/v1/invoices/2018-99999.xml", headers=AUTH).status_code == 404
    assert service.client.get("/api/v1/invoices/2018-99999.xml").status_code in (401, 403)
