"""Peppol BIS Billing 3.0 e-invoices: valid UBL 2.1, the EN 16931/Peppol/Swedish rules, and literal user text.

Every generated fixture (standard rated, outside the scope of VAT, credit
note, öresavrundning, hostile text) is validated against the OASIS UBL 2.1
XSD and against each rule family of ``tests/support/peppol_rules.py``. Each
family is also shown to catch a broken document, so none of these tests can
pass vacuously.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from services.invoicing.document import InvoiceDocument
from services.invoicing.pdf import SAMPLE_VAT_NOTE, render_invoice_pdf, sample_credit_note, sample_document
from services.invoicing.ubl import CUSTOMIZATION_ID, PROFILE_ID, invoice_xml
from tests.support import peppol_rules
from tests.support.peppol_rules import NS

XSD_DIR = Path(__file__).parents[1] / "support" / "ubl-2.1-xsd" / "maindoc"
GOLDEN = Path(__file__).parents[1] / "golden"
HOSTILE = "Kommun <b>&amp; ]]> \"citat\" 'apostrof' <!-- x --> <?pi?> &#x41; \x01slut"
HOSTILE_CLEAN = HOSTILE.replace("\x01", "")

FIXTURES: dict[str, Callable[[], InvoiceDocument]] = {
    "standard rated": sample_document,
    "outside the scope of VAT": lambda: sample_document(outside_scope=True),
    "credit note": sample_credit_note,
    "outside-scope credit note": lambda: sample_credit_note(sample_document(outside_scope=True)),
    "öresavrundning": lambda: sample_document(round_to_krona=True, fee=Decimal("1234.55"), lines=3),
    "hostile text": lambda: sample_document(buyer_name=HOSTILE, buyer_reference=HOSTILE,
                                            buyer_street=HOSTILE),
}


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {root: etree.XMLSchema(etree.parse(str(XSD_DIR / f"UBL-{root}-2.1.xsd")))
            for root in ("Invoice", "CreditNote")}


def xml_of(name: str) -> bytes:
    return invoice_xml(FIXTURES[name]())


def tree_of(name: str) -> etree._Element:
    return etree.fromstring(xml_of(name))


def text(root: etree._Element, path: str) -> str:
    return "|".join((e.text or "") for e in root.xpath(path, namespaces=NS))


@pytest.mark.parametrize("name", FIXTURES)
def test_every_generated_document_is_valid_ubl_2_1(name: str, schemas: dict[str, etree.XMLSchema]) -> None:
    root = tree_of(name)
    schema = schemas[etree.QName(root).localname]
    assert schema.validate(root), schema.error_log


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("family", peppol_rules.FAMILIES)
def test_every_generated_document_passes_each_rule_family(name: str, family: str) -> None:
    assert peppol_rules.FAMILIES[family](tree_of(name)) == []


# --- Each family catches what it is about (so the passes above mean something) ---

def broken(name: str, path: str, value: str | None) -> etree._Element:
    """The fixture with the element at ``path`` given ``value`` as text, or removed if None."""
    root = tree_of(name)
    [element] = root.xpath(path, namespaces=NS)
    if value is None:
        element.getparent().remove(element)
    else:
        element.text = value
    return root


@pytest.mark.parametrize(("family", "path", "value", "rule"), [
    ("required elements", "cbc:BuyerReference", None, "PEPPOL-EN16931-R003"),
    ("required elements", "cbc:ProfileID", "urn:example", "PEPPOL-EN16931-R007"),
    ("required elements", "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", None,
     "PEPPOL-EN16931-R010"),
    ("required elements", "cac:InvoiceLine[1]/cac:Item/cbc:Name", "", "BR-25"),
    ("code lists", "cbc:DocumentCurrencyCode", "KRONOR", "BR-CL-04"),
    ("code lists", "cbc:InvoiceTypeCode", "381", "BR-CL-01"),
    ("code lists", "cac:PaymentMeans/cbc:PaymentMeansCode", "99", "BR-CL-16"),
    ("totals", "cac:LegalMonetaryTotal/cbc:PayableAmount", "9999.00", "BR-CO-16"),
    ("totals", "cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "7999.00", "BR-CO-10"),
    ("totals", "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "10000.01", "BR-CO-15"),
    ("totals", "cac:TaxTotal/cbc:TaxAmount", "1999.99", "BR-CO-14"),
    ("totals", "cac:InvoiceLine[1]/cbc:LineExtensionAmount", "4000.001", "BR-DEC"),
    ("VAT breakdown", "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount", "7000.00", "BR-S-08"),
    ("VAT breakdown", "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "2000.01", "BR-S-09"),
    ("Swedish rules", "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[1]/cbc:CompanyID",
     "SE8024260005", "SE-R-001"),
    ("Swedish rules", "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID",
     "8024260006", "SE-R-013"),
    ("Swedish rules", "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[2]/cbc:CompanyID",
     "F-skatt", "SE-R-005"),
    ("Swedish rules", "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", "50501", "SE-R-009"),
    ("Swedish rules", "cac:PaymentMeans/cbc:PaymentMeansCode", "56", "SE-R-011"),
    ("Swedish rules", "cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "20", "SE-R-006"),
    ("Swedish rules", "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", "232100022",
     "PEPPOL-COMMON-R049"),
])
def test_each_rule_family_catches_a_broken_standard_invoice(family: str, path: str, value: str | None,
                                                             rule: str) -> None:
    problems = peppol_rules.FAMILIES[family](broken("standard rated", path, value))
    assert any(problem.startswith(rule) for problem in problems), problems


def test_the_vat_breakdown_rules_catch_an_outside_scope_invoice_that_names_a_vat_number_or_a_rate() -> None:
    root = tree_of("outside the scope of VAT")
    party = root.xpath("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", namespaces=NS)[0]
    vat = etree.fromstring(f'<cac:PartyTaxScheme xmlns:cac="{NS["cac"]}" xmlns:cbc="{NS["cbc"]}">'
                           "<cbc:CompanyID>SE802426000501</cbc:CompanyID>"
                           "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>")
    party.addprevious(vat)
    assert any(p.startswith("BR-O-02") for p in peppol_rules.vat_breakdown(root))
    reason = broken("outside the scope of VAT", "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/"
                    "cbc:TaxExemptionReasonCode", "VATEX-EU-AE")
    assert any(p.startswith("BR-O-10") for p in peppol_rules.vat_breakdown(reason))


def test_the_rules_catch_a_credit_note_without_the_invoice_it_credits() -> None:
    root = broken("credit note", "cac:BillingReference", None)
    assert any("BillingReference" in p for p in peppol_rules.required_elements(root))


# --- What the documents say ---

def test_an_invoice_is_a_peppol_bis_3_invoice_addressed_by_organisationsnummer() -> None:
    root = tree_of("standard rated")
    document = sample_document()
    assert etree.QName(root).localname == "Invoice"
    assert text(root, "cbc:CustomizationID") == CUSTOMIZATION_ID
    assert text(root, "cbc:ProfileID") == PROFILE_ID
    assert (text(root, "cbc:ID"), text(root, "cbc:InvoiceTypeCode")) == ("2018-00042", "380")
    assert (text(root, "cbc:IssueDate"), text(root, "cbc:DueDate")) == ("2018-02-01", "2018-03-03")
    assert text(root, "cbc:BuyerReference") == "Åsa Öberg"
    seller = "cac:AccountingSupplierParty/cac:Party/"
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert root.xpath(seller + "cbc:EndpointID/@schemeID", namespaces=NS) == ["0007"]
    assert text(root, seller + "cbc:EndpointID") == "8024260005"
    assert text(root, seller + "cac:PartyLegalEntity/cbc:CompanyID") == "8024260005"
    assert text(root, seller + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID") == \
        "SE802426000501"
    assert text(root, seller + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']/cbc:CompanyID") == \
        "Godkänd för F-skatt"
    assert root.xpath(buyer + "cbc:EndpointID/@schemeID", namespaces=NS) == ["0007"]
    assert text(root, buyer + "cbc:EndpointID") == "2321000222"
    assert text(root, buyer + "cac:PartyLegalEntity/cbc:CompanyID") == "2321000222"
    assert text(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == "30"
    assert text(root, "cac:PaymentMeans/cbc:PaymentID") == document.ocr
    assert text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == "50501055"
    assert text(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID") == \
        "SE:BANKGIRO"
    assert text(root, "cac:PaymentTerms/cbc:Note") == "30 dagar netto, förfallodag 2018-03-03"
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID") == "S"
    assert text(root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent") == "25"
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "10000.00"
    assert text(root, "cac:InvoiceLine/cbc:LineExtensionAmount") == "4000.00|4000.00"
    assert text(root, "cac:InvoiceLine/cac:InvoicePeriod/cbc:StartDate") == "2018-01-01|2018-01-01"


def test_an_outside_scope_invoice_is_category_o_with_the_policys_legal_text_and_no_vat_number() -> None:
    root = tree_of("outside the scope of VAT")
    category = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/"
    assert text(root, category + "cbc:ID") == "O"
    assert text(root, category + "cbc:Percent") == ""
    assert text(root, category + "cbc:TaxExemptionReasonCode") == "VATEX-EU-O"
    assert text(root, category + "cbc:TaxExemptionReason") == SAMPLE_VAT_NOTE
    assert text(root, "cbc:Note") == SAMPLE_VAT_NOTE
    assert text(root, "cac:TaxTotal/cbc:TaxAmount") == "0.00"
    assert text(root, "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID") == "O|O"
    schemes = "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cac:TaxScheme/cbc:ID"
    assert text(root, schemes) == "TAX", "no VAT number on an invoice outside the scope of VAT (BR-O-02)"


def test_a_credit_note_is_a_creditnote_381_referring_to_the_invoice_in_positive_amounts() -> None:
    root = tree_of("credit note")
    assert etree.QName(root).localname == "CreditNote"
    assert text(root, "cbc:CreditNoteTypeCode") == "381"
    reference = "cac:BillingReference/cac:InvoiceDocumentReference/"
    assert (text(root, reference + "cbc:ID"), text(root, reference + "cbc:IssueDate")) == (
        "2018-00042", "2018-02-01")
    assert text(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == "10000.00"
    assert text(root, "cac:CreditNoteLine/cbc:CreditedQuantity") == "1|1"
    assert text(root, "cac:CreditNoteLine/cbc:LineExtensionAmount") == "4000.00|4000.00"


def test_oresavrundning_is_the_payable_rounding_amount() -> None:
    document = FIXTURES["öresavrundning"]()
    assert (document.total, document.rounding, document.payable) == (
        Decimal("4629.56"), Decimal("0.44"), Decimal("4630.00"))
    root = tree_of("öresavrundning")
    total = "cac:LegalMonetaryTotal/cbc:"
    assert text(root, total + "TaxInclusiveAmount") == "4629.56"
    assert text(root, total + "PayableRoundingAmount") == "0.44"
    assert text(root, total + "PayableAmount") == "4630.00"
    assert "PayableRoundingAmount" not in xml_of("standard rated").decode()


def test_hostile_text_stays_text_and_cannot_change_the_documents_structure() -> None:
    hostile, plain = tree_of("hostile text"), tree_of("standard rated")
    assert [e.tag for e in hostile.iter()] == [e.tag for e in plain.iter()], "no element added or removed"
    buyer = "cac:AccountingCustomerParty/cac:Party/"
    assert text(hostile, buyer + "cac:PartyName/cbc:Name") == HOSTILE_CLEAN
    assert text(hostile, buyer + "cac:PostalAddress/cbc:StreetName") == HOSTILE_CLEAN
    assert text(hostile, "cbc:BuyerReference") == HOSTILE_CLEAN
    raw = xml_of("hostile text").decode()
    assert "<b>" not in raw and "<!-- x -->" not in raw and "\x01" not in raw


def canonical(xml: bytes) -> str:
    """Exclusive C14N 2.0 without indentation: equal for equal documents, whatever the layout."""
    return str(etree.canonicalize(etree.fromstring(xml), strip_text=True))


@pytest.mark.parametrize(("name", "golden"), [
    ("standard rated", "invoice-2018-00042.xml"),
    ("credit note", "credit-note-2018-00057.xml"),
    ("outside the scope of VAT", "invoice-2018-00042-outside-scope.xml"),
])
def test_the_ubl_of_a_fixed_document_matches_its_golden_file(
        name: str, golden: str, schemas: dict[str, etree.XMLSchema]) -> None:
    expected = (GOLDEN / golden).read_bytes()
    assert canonical(xml_of(name)) == canonical(expected)
    root = etree.fromstring(expected)
    assert schemas[etree.QName(root).localname].validate(root), "the golden file itself is valid UBL"


@pytest.mark.parametrize("make", [sample_document, sample_credit_note])
def test_the_pdf_rides_along_as_an_embedded_attachment_and_the_document_stays_valid(
        make: Callable[[], InvoiceDocument], schemas: dict[str, etree.XMLSchema]) -> None:
    document = make()
    pdf = render_invoice_pdf(document)
    root = etree.fromstring(invoice_xml(document, pdf=pdf))
    schema = schemas[etree.QName(root).localname]
    assert schema.validate(root), schema.error_log
    assert peppol_rules.violations(etree.tostring(root)) == []
    [attachment] = root.xpath("cac:AdditionalDocumentReference/cac:Attachment/"
                              "cbc:EmbeddedDocumentBinaryObject", namespaces=NS)
    assert attachment.get("mimeCode") == "application/pdf"
    assert attachment.get("filename").endswith(f"-{document.number}.pdf")
    assert base64.b64decode(attachment.text) == pdf
