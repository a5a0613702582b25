"""Peppol BIS Billing 3.0 e-invoices: valid UBL 2.1, the EN 16931/Peppol/Swedish rules, and literal user text.

Every generated fixture (standard rated, outside the scope of VAT, credit
note, öresavrundning, hostile text) is validated against the OASIS UBL 2.1
XSD and against each rule family of ``tests/support/peppol_rules.py``. Every
rule the checker states is also shown to catch a document broken against it
(one declarative table, ``BREAKS``), so none of these tests can pass vacuously.
"""

from __future__ import annotations

import base64
import copy
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
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


# --- Every rule the checker states catches a document broken against it (so the passes mean something) ---

STANDARD, OUTSIDE, CREDIT, ROUNDED, EMBEDDED = (
    "standard rated", "outside the scope of VAT", "credit note", "öresavrundning", "embedded PDF")
SELLER = "cac:AccountingSupplierParty/cac:Party/"
BUYER = "cac:AccountingCustomerParty/cac:Party/"
LINE = "cac:InvoiceLine[1]/"
SUBTOTAL = "cac:TaxTotal/cac:TaxSubtotal/"
TOTAL = "cac:LegalMonetaryTotal/cbc:"
ACCOUNT = "cac:PaymentMeans/cac:PayeeFinancialAccount/"
SE_VAT = SELLER + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'VAT']/"
ATTACHMENT = "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject"
PERCENT = f'<cbc:Percent xmlns:cbc="{NS["cbc"]}">0</cbc:Percent>'


@dataclass(frozen=True)
class Edit:
    """One change to every element at ``path``: new text, an attribute (None removes it),
    removal, a copy right after it, or ``insert`` (an XML fragment) placed right after it."""

    path: str
    text: str | None = None
    attribute: tuple[str, str | None] | None = None
    remove: bool = False
    copy: bool = False
    insert: str | None = None

    def apply(self, root: etree._Element) -> None:
        found = root.xpath(self.path, namespaces=NS)
        assert found, f"the fixture has no {self.path}"
        for element in found:
            if self.text is not None:
                element.text = self.text
            if self.attribute is not None:
                name, value = self.attribute
                if value is None:
                    del element.attrib[name]
                else:
                    element.set(name, value)
            if self.remove:
                element.getparent().remove(element)
            if self.copy:
                element.addnext(copy.deepcopy(element))
            if self.insert is not None:
                element.addnext(etree.fromstring(self.insert))


def drop(path: str) -> Edit:
    return Edit(path, remove=True)


def put(path: str, text: str) -> Edit:
    return Edit(path, text=text)


# (what must be reported, the fixture, the edits). The rule is the label up to the first ":".
BREAKS: list[tuple[str, str, tuple[Edit, ...]]] = [
    # Required elements
    ("BR-01", STANDARD, (drop("cbc:CustomizationID"),)),
    ("BR-02", STANDARD, (drop("cbc:ID"),)),
    ("BR-03", STANDARD, (drop("cbc:IssueDate"),)),
    ("BR-04", STANDARD, (drop("cbc:InvoiceTypeCode"),)),
    ("BR-05", STANDARD, (drop("cbc:DocumentCurrencyCode"),)),
    ("BR-06", STANDARD, (drop(SELLER + "cac:PartyLegalEntity/cbc:RegistrationName"),)),
    ("BR-07", STANDARD, (drop(BUYER + "cac:PartyLegalEntity/cbc:RegistrationName"),)),
    ("BR-08", STANDARD, (drop(SELLER + "cac:PostalAddress"),)),
    ("BR-09", STANDARD, (drop(SELLER + "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),)),
    ("BR-10", STANDARD, (drop(BUYER + "cac:PostalAddress"),)),
    ("BR-11", STANDARD, (drop(BUYER + "cac:PostalAddress/cac:Country/cbc:IdentificationCode"),)),
    ("BR-12", STANDARD, (drop(TOTAL + "LineExtensionAmount"),)),
    ("BR-13", STANDARD, (drop(TOTAL + "TaxExclusiveAmount"),)),
    ("BR-14", STANDARD, (drop(TOTAL + "TaxInclusiveAmount"),)),
    ("BR-15", STANDARD, (drop(TOTAL + "PayableAmount"),)),
    ("BR-16", STANDARD, (drop("cac:InvoiceLine"),)),
    ("BR-21", STANDARD, (put(LINE + "cbc:ID", ""),)),
    ("BR-22", STANDARD, (drop(LINE + "cbc:InvoicedQuantity"),)),
    ("BR-23", STANDARD, (Edit(LINE + "cbc:InvoicedQuantity", attribute=("unitCode", None)),)),
    ("BR-24", STANDARD, (drop(LINE + "cbc:LineExtensionAmount"),)),
    ("BR-25", STANDARD, (put(LINE + "cac:Item/cbc:Name", ""),)),
    ("BR-26", STANDARD, (drop(LINE + "cac:Price/cbc:PriceAmount"),)),
    ("BR-27", STANDARD, (put(LINE + "cac:Price/cbc:PriceAmount", "-4000.00"),)),
    ("BR-55", CREDIT, (drop("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),)),
    ("credit note", CREDIT, (drop("cac:BillingReference"),)),
    ("BR-CO-26", STANDARD, (drop(SELLER + "cac:PartyLegalEntity/cbc:CompanyID"),
                            drop(SE_VAT + "cbc:CompanyID"))),
    ("PEPPOL-EN16931-R001", STANDARD, (drop("cbc:ProfileID"),)),
    ("PEPPOL-EN16931-R002", OUTSIDE, (Edit("cbc:Note", copy=True),)),
    ("PEPPOL-EN16931-R003", STANDARD, (drop("cbc:BuyerReference"),)),
    ("PEPPOL-EN16931-R004", STANDARD, (put("cbc:CustomizationID", "urn:cen.eu:en16931:2017"),)),
    ("PEPPOL-EN16931-R007", STANDARD, (put("cbc:ProfileID", "urn:example"),)),
    ("PEPPOL-EN16931-R008", STANDARD, (put(BUYER + "cac:PartyName/cbc:Name", " "),)),
    ("PEPPOL-EN16931-R010", STANDARD, (drop(BUYER + "cbc:EndpointID"),)),
    ("PEPPOL-EN16931-R020", STANDARD, (drop(SELLER + "cbc:EndpointID"),)),
    ("PEPPOL-EN16931-F001", STANDARD, (put("cbc:DueDate", "2018-3-3"),)),
    # Code lists
    ("BR-CL-01", STANDARD, (put("cbc:InvoiceTypeCode", "381"),)),
    ("BR-CL-01", CREDIT, (put("cbc:CreditNoteTypeCode", "380"),)),
    ("BR-CL-04", STANDARD, (put("cbc:DocumentCurrencyCode", "KRONOR"),)),
    ("BR-CL-16", STANDARD, (put("cac:PaymentMeans/cbc:PaymentMeansCode", "99"),)),
    ("BR-CL-17/18", STANDARD, (put(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "X"),)),
    ("BR-CL-23", STANDARD, (Edit(LINE + "cbc:InvoicedQuantity", attribute=("unitCode", "STYCK")),)),
    ("BR-CL-24", EMBEDDED, (Edit(ATTACHMENT, attribute=("mimeCode", "text/html")),)),
    ("BR-CL-24/UBL", EMBEDDED, (Edit(ATTACHMENT, attribute=("filename", None)),)),
    ("BR-CL-25", STANDARD, (Edit(BUYER + "cbc:EndpointID", attribute=("schemeID", "9999")),)),
    ("PEPPOL-EN16931-R051", STANDARD, (Edit(TOTAL + "PayableAmount", attribute=("currencyID", "EUR")),)),
    # Totals
    ("BR-DEC", STANDARD, (put(LINE + "cbc:LineExtensionAmount", "4000.001"),)),
    ("BR-CO-10", STANDARD, (put(TOTAL + "LineExtensionAmount", "7999.00"),)),
    ("BR-CO-13", STANDARD, (put(TOTAL + "TaxExclusiveAmount", "7999.00"),)),
    ("BR-CO-14", STANDARD, (put("cac:TaxTotal/cbc:TaxAmount", "1999.99"),)),
    ("BR-CO-15", STANDARD, (put(TOTAL + "TaxInclusiveAmount", "10000.01"),)),
    ("BR-CO-16", STANDARD, (put(TOTAL + "PayableAmount", "9999.00"),)),
    ("BR-CO-25", STANDARD, (drop("cbc:DueDate"), drop("cac:PaymentTerms"))),
    ("PEPPOL-EN16931-R053", STANDARD, (Edit("cac:TaxTotal", copy=True),)),
    ("PEPPOL-EN16931-R120", STANDARD, (put(LINE + "cac:Price/cbc:PriceAmount", "3999.00"),)),
    ("rounding: PayableRoundingAmount", ROUNDED, (put(TOTAL + "PayableRoundingAmount", "1.44"),
                                                  put(TOTAL + "PayableAmount", "4631.00"))),
    ("rounding: PayableAmount", ROUNDED, (put(TOTAL + "PayableRoundingAmount", "0.34"),
                                          put(TOTAL + "PayableAmount", "4629.90"))),
    # VAT breakdown
    ("BR-CO-04", STANDARD, (drop(LINE + "cac:Item/cac:ClassifiedTaxCategory"),)),
    ("BR-CO-18", STANDARD, (drop(SUBTOTAL[:-1]),)),
    ("BR-S-01/BR-O-01", STANDARD, (put(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "12"),)),
    ("BR-S-02", STANDARD, (drop(SE_VAT[:-1]),)),
    ("BR-S-05", STANDARD, (put(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "0"),)),
    ("BR-S-08", STANDARD, (put(SUBTOTAL + "cbc:TaxableAmount", "7000.00"),)),
    ("BR-S-09/BR-CO-17", STANDARD, (put(SUBTOTAL + "cbc:TaxAmount", "2000.01"),)),
    ("BR-S-10", STANDARD, (Edit(SUBTOTAL + "cac:TaxCategory/cbc:Percent",
                                insert=f'<cbc:TaxExemptionReason xmlns:cbc="{NS["cbc"]}">Undantag'
                                       "</cbc:TaxExemptionReason>"),)),
    ("BR-O-02", OUTSIDE, (Edit(SELLER + "cac:PartyTaxScheme", insert=(
        f'<cac:PartyTaxScheme xmlns:cac="{NS["cac"]}" xmlns:cbc="{NS["cbc"]}"><cbc:CompanyID>SE802426000501'
        "</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>")),)),
    ("BR-O-05", OUTSIDE, (Edit(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:ID", insert=PERCENT),)),
    ("BR-O-08", OUTSIDE, (put(SUBTOTAL + "cbc:TaxableAmount", "7000.00"),)),
    ("BR-O-09", OUTSIDE, (put(SUBTOTAL + "cbc:TaxAmount", "10.00"),)),
    ("BR-O-10", OUTSIDE, (drop(SUBTOTAL + "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                          drop(SUBTOTAL + "cac:TaxCategory/cbc:TaxExemptionReason"))),
    ("BR-O-10", OUTSIDE, (put(SUBTOTAL + "cac:TaxCategory/cbc:TaxExemptionReasonCode", "VATEX-EU-AE"),
                          drop(SUBTOTAL + "cac:TaxCategory/cbc:TaxExemptionReason"))),
    ("BR-O-11", OUTSIDE, (Edit(SUBTOTAL[:-1], copy=True),
                          put("cac:TaxTotal/cac:TaxSubtotal[2]/cac:TaxCategory/cbc:ID", "E"))),
    ("BR-O-12", OUTSIDE, (put(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "E"),)),
    ("OWN-O-RATE", OUTSIDE, (Edit(SUBTOTAL + "cac:TaxCategory/cbc:ID", insert=PERCENT),)),
    # Swedish rules
    ("SE", STANDARD, (put(SELLER + "cac:PostalAddress/cac:Country/cbc:IdentificationCode", "NO"),)),
    ("SE-R-001", STANDARD, (put(SE_VAT + "cbc:CompanyID", "SE8024260005"),)),
    ("SE-R-002", STANDARD, (put(SE_VAT + "cbc:CompanyID", "SE80242600050A"),)),
    ("SE VAT format", STANDARD, (put(SE_VAT + "cbc:CompanyID", "SE802426000502"),)),
    ("SE-R-003", STANDARD, (put(SELLER + "cac:PartyLegalEntity/cbc:CompanyID", "802426-000"),)),
    ("SE-R-004", STANDARD, (put(SELLER + "cac:PartyLegalEntity/cbc:CompanyID", "80242600051"),)),
    ("SE-R-005", STANDARD, (put(SELLER + "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'TAX']/cbc:CompanyID",
                                "F-skatt"),)),
    ("SE-R-006", STANDARD, (put(LINE + "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "20"),)),
    ("SE-R-007", STANDARD, (put(ACCOUNT + "cac:FinancialInstitutionBranch/cbc:ID", "SE:PLUSGIRO"),
                            put(ACCOUNT + "cbc:ID", "12345-6"))),
    ("SE-R-008", STANDARD, (put(ACCOUNT + "cbc:ID", "5050-105"),)),
    ("SE-R-009", STANDARD, (put(ACCOUNT + "cbc:ID", "50501"),)),
    ("SE-R-010", STANDARD, (put(ACCOUNT + "cac:FinancialInstitutionBranch/cbc:ID", "SE:PLUSGIRO"),
                            put(ACCOUNT + "cbc:ID", "123456789"))),
    ("SE-R-011", STANDARD, (put("cac:PaymentMeans/cbc:PaymentMeansCode", "56"),)),
    ("SE-R-012", STANDARD, (put("cac:PaymentMeans/cbc:PaymentMeansCode", "31"),)),
    ("SE-R-013", STANDARD, (put(SELLER + "cac:PartyLegalEntity/cbc:CompanyID", "8024260006"),)),
    ("BR-61", STANDARD, (drop(ACCOUNT + "cbc:ID"),)),
    ("PEPPOL-COMMON-R049", STANDARD, (put(BUYER + "cbc:EndpointID", "232100022"),)),
]


def fixture_tree(name: str) -> etree._Element:
    if name == EMBEDDED:
        return etree.fromstring(invoice_xml(sample_document(), pdf=b"%PDF-1.7\n"))
    return tree_of(name)


def broken(name: str, *edits: Edit) -> etree._Element:
    root = fixture_tree(name)
    for edit in edits:
        edit.apply(root)
    return root


def reported(root: etree._Element) -> list[str]:
    return [problem for check in peppol_rules.FAMILIES.values() for problem in check(root)]


@pytest.mark.parametrize(("expected", "name", "edits"), BREAKS,
                         ids=[f"{rule}-{name}" for rule, name, _ in BREAKS])
def test_each_rule_catches_a_document_broken_against_it(expected: str, name: str, edits: tuple[Edit, ...]
                                                        ) -> None:
    assert reported(fixture_tree(name)) == [], "the fixture itself passes"
    problems = reported(broken(name, *edits))
    prefix = expected if ":" in expected else expected + ":"
    assert any(problem.startswith(prefix) for problem in problems), problems


def test_every_rule_the_checker_states_has_a_break_case() -> None:
    source = inspect.getsource(peppol_rules)
    stated = {*re.findall(r'problems\.append\(f?"([^:"{]+):', source),
              *re.findall(r'"((?:BR|PEPPOL)-[A-Z0-9-]+)": ', source),  # the required-elements table
              *re.findall(r'return \["([^:"]+):', source)}
    assert len(stated) > 80
    assert {expected.split(":")[0] for expected, _, _ in BREAKS} == stated


@pytest.mark.parametrize("kept", ["cbc:TaxExemptionReasonCode", "cbc:TaxExemptionReason"])
def test_br_o_10_takes_the_reason_code_or_the_reason_text(kept: str) -> None:
    other = ({"cbc:TaxExemptionReasonCode", "cbc:TaxExemptionReason"} - {kept}).pop()
    assert peppol_rules.vat_breakdown(broken(OUTSIDE, drop(SUBTOTAL + "cac:TaxCategory/" + other))) == []


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
