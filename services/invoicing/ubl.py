"""Peppol BIS Billing 3.0 e-invoices: an issued document as UBL 2.1 XML.

Made from the same frozen ``InvoiceDocument`` as the PDF, so the e-invoice
and the PDF can never disagree. An invoice becomes an ``Invoice`` (type
380); a credit note a ``CreditNote`` (type 381) that names the invoice it
credits in ``BillingReference``. A credit note's document holds negative
amounts (that is how it is printed); UBL states a credit note in positive
amounts, so the signs are turned here.

The XML is built as a tree with lxml, never by joining strings: whatever a
buyer typed is a text node, escaped by the serialiser, and cannot add or
change elements. Characters XML 1.0 cannot carry at all (control characters)
are dropped.

Choices, each from the EN 16931 / Peppol rules:

- Both parties are addressed by organisationsnummer: ``EndpointID`` and
  ``PartyLegalEntity/CompanyID`` with scheme 0007 (Swedish organisation
  number, ten digits).
- VAT per category: ``S`` with its rate, or ``O`` (outside the scope of VAT)
  with exemption reason code ``VATEX-EU-O`` and the policy's legal text. An
  invoice with ``O`` lines carries no seller VAT number (BR-O-02).
- "Godkänd för F-skatt" as the seller's second tax scheme (SE-R-005).
- Payment: code 30 (credit transfer) to the Bankgiro digits with branch
  ``SE:BANKGIRO`` (SE-R-011), the OCR reference as ``PaymentID``.
- Öresavrundning, when on, as ``PayableRoundingAmount``.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from typing import Literal

from lxml import etree

from services.invoicing.document import Buyer, DocumentLine, InvoiceDocument, Seller, VatGroupLine
from shared.digits import only_digits
from shared.money import money

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
SCHEME_SE_ORGNR = "0007"  # EAS / ICD: Swedish organisationsnummer
COUNTRY = "SE"
UNIT_ONE = "C62"  # UN/ECE rec 20: "one" (a membership fee is one unit)
PAYMENT_CREDIT_TRANSFER = "30"  # UNCL4461
BANKGIRO_BRANCH = "SE:BANKGIRO"
EXEMPTION_CODE_OUTSIDE_SCOPE = "VATEX-EU-O"
F_TAX_TEXT = "Godkänd för F-skatt"
MEDIA_TYPE = "application/xml"

# Characters XML 1.0 cannot represent at all; everything else is escaped by lxml.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _cbc(name: str) -> str:
    return f"{{{NS_CBC}}}{name}"


def _cac(name: str) -> str:
    return f"{{{NS_CAC}}}{name}"


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text).strip()


def _amount(value: Decimal) -> str:
    value = money(value)  # already whole öre; rounding, if any, is shared.money's half up
    return str(abs(value) if value == 0 else value)  # never "-0.00"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}"


class _Builder:
    """Appends UBL elements in schema order; empty optional values are left out (PEPPOL-EN16931-R008)."""

    def __init__(self, currency: str, sign: int) -> None:
        self.currency = currency
        self.sign = sign

    def text(self, parent: etree._Element, tag: str, value: str, **attributes: str) -> etree._Element:
        element = etree.SubElement(parent, tag, attributes)
        element.text = _clean(value)
        return element

    def optional(self, parent: etree._Element, tag: str, value: str) -> None:
        if _clean(value):
            self.text(parent, tag, value)

    def money(self, parent: etree._Element, name: str, value: Decimal) -> None:
        self.text(parent, _cbc(name), _amount(value * self.sign), currencyID=self.currency)

    def node(self, parent: etree._Element, name: str) -> etree._Element:
        return etree.SubElement(parent, _cac(name))


def _address(b: _Builder, parent: etree._Element, street: str, city: str, postal_code: str) -> None:
    address = b.node(parent, "PostalAddress")
    b.optional(address, _cbc("StreetName"), street)
    b.optional(address, _cbc("CityName"), city)
    b.optional(address, _cbc("PostalZone"), postal_code)
    b.text(b.node(address, "Country"), _cbc("IdentificationCode"), COUNTRY)


def _tax_scheme(b: _Builder, parent: etree._Element, company_id: str, scheme: str) -> None:
    party_tax_scheme = b.node(parent, "PartyTaxScheme")
    b.text(party_tax_scheme, _cbc("CompanyID"), company_id)
    b.text(b.node(party_tax_scheme, "TaxScheme"), _cbc("ID"), scheme)


def _seller(b: _Builder, parent: etree._Element, seller: Seller, with_vat_number: bool) -> None:
    party = b.node(b.node(parent, "AccountingSupplierParty"), "Party")
    org = only_digits(seller.org_number)
    b.text(party, _cbc("EndpointID"), org, schemeID=SCHEME_SE_ORGNR)
    b.text(b.node(party, "PartyName"), _cbc("Name"), seller.name)
    _address(b, party, seller.street, seller.city, seller.postal_code)
    if with_vat_number:
        _tax_scheme(b, party, seller.vat_number, "VAT")
    if seller.f_tax:
        _tax_scheme(b, party, F_TAX_TEXT, "TAX")
    legal = b.node(party, "PartyLegalEntity")
    b.text(legal, _cbc("RegistrationName"), seller.name)
    b.text(legal, _cbc("CompanyID"), org, schemeID=SCHEME_SE_ORGNR)
    if any(_clean(v) for v in (seller.reference, seller.phone, seller.email)):
        contact = b.node(party, "Contact")
        b.optional(contact, _cbc("Name"), seller.reference)
        b.optional(contact, _cbc("Telephone"), seller.phone)
        b.optional(contact, _cbc("ElectronicMail"), seller.email)


def _buyer(b: _Builder, parent: etree._Element, buyer: Buyer) -> None:
    party = b.node(b.node(parent, "AccountingCustomerParty"), "Party")
    org = only_digits(buyer.org_number)
    b.text(party, _cbc("EndpointID"), org, schemeID=SCHEME_SE_ORGNR)
    b.text(b.node(party, "PartyName"), _cbc("Name"), buyer.name)
    _address(b, party, buyer.street, buyer.city, buyer.postal_code)
    legal = b.node(party, "PartyLegalEntity")
    b.text(legal, _cbc("RegistrationName"), buyer.name)
    b.text(legal, _cbc("CompanyID"), org, schemeID=SCHEME_SE_ORGNR)
    if _clean(buyer.invoice_email):
        b.text(b.node(party, "Contact"), _cbc("ElectronicMail"), buyer.invoice_email)


def _tax_category(b: _Builder, parent: etree._Element, name: str, category: Literal["S", "O"],
                  rate: Decimal, exemption_reason: str) -> None:
    tax_category = b.node(parent, name)
    b.text(tax_category, _cbc("ID"), category)
    if category == "S":
        b.text(tax_category, _cbc("Percent"), _percent(rate))
    elif name == "TaxCategory":  # the reason belongs to the breakdown, not to each line (BR-O-10)
        b.text(tax_category, _cbc("TaxExemptionReasonCode"), EXEMPTION_CODE_OUTSIDE_SCOPE)
        b.optional(tax_category, _cbc("TaxExemptionReason"), exemption_reason)
    b.text(b.node(tax_category, "TaxScheme"), _cbc("ID"), "VAT")


def _tax_total(b: _Builder, parent: etree._Element, document: InvoiceDocument) -> None:
    tax_total = b.node(parent, "TaxTotal")
    b.money(tax_total, "TaxAmount", document.vat)
    for group in document.vat_groups:
        _subtotal(b, tax_total, group, document.vat_exemption_reason or " ".join(document.notes))


def _subtotal(b: _Builder, parent: etree._Element, group: VatGroupLine, reason: str) -> None:
    subtotal = b.node(parent, "TaxSubtotal")
    b.money(subtotal, "TaxableAmount", group.net)
    b.money(subtotal, "TaxAmount", group.vat)
    _tax_category(b, subtotal, "TaxCategory", group.vat_category, group.rate, reason)


def _monetary_total(b: _Builder, parent: etree._Element, document: InvoiceDocument) -> None:
    total = b.node(parent, "LegalMonetaryTotal")
    b.money(total, "LineExtensionAmount", document.net)
    b.money(total, "TaxExclusiveAmount", document.net)
    b.money(total, "TaxInclusiveAmount", document.total)
    if document.rounding:
        b.money(total, "PayableRoundingAmount", document.rounding)
    b.money(total, "PayableAmount", document.payable)


def _line(b: _Builder, parent: etree._Element, position: int, line: DocumentLine, credit: bool) -> None:
    element = b.node(parent, "CreditNoteLine" if credit else "InvoiceLine")
    b.text(element, _cbc("ID"), str(position))
    b.text(element, _cbc("CreditedQuantity" if credit else "InvoicedQuantity"), "1", unitCode=UNIT_ONE)
    b.money(element, "LineExtensionAmount", line.amount)
    period = b.node(element, "InvoicePeriod")
    b.text(period, _cbc("StartDate"), line.period_start.isoformat())
    b.text(period, _cbc("EndDate"), line.period_end.isoformat())
    item = b.node(element, "Item")
    b.text(item, _cbc("Name"), line.full_description)
    b.text(b.node(item, "SellersItemIdentification"), _cbc("ID"), line.network_code)
    _tax_category(b, item, "ClassifiedTaxCategory", line.vat_category, line.vat_rate, "")
    b.money(b.node(element, "Price"), "PriceAmount", line.amount)


def _attachment(b: _Builder, parent: etree._Element, document: InvoiceDocument, pdf: bytes) -> None:
    reference = b.node(parent, "AdditionalDocumentReference")
    b.text(reference, _cbc("ID"), document.number)
    title = "Kreditfaktura" if document.kind == "credit_note" else "Faktura"
    b.text(reference, _cbc("DocumentDescription"), f"{title} {document.number} som PDF")
    b.text(b.node(reference, "Attachment"), _cbc("EmbeddedDocumentBinaryObject"),
           base64.b64encode(pdf).decode("ascii"), mimeCode="application/pdf",
           filename=f"{title.lower()}-{document.number}.pdf")


def invoice_xml(document: InvoiceDocument, pdf: bytes | None = None) -> bytes:
    """The document as Peppol BIS Billing 3.0 UBL (UTF-8 bytes, with the XML declaration).

    ``pdf``, when given, is embedded as an additional document (the invoice
    image, base64), so a buyer's system can show exactly what was printed.
    """
    credit = document.kind == "credit_note"
    b = _Builder(document.currency, -1 if credit else 1)
    namespace, root_name = (NS_CREDIT_NOTE, "CreditNote") if credit else (NS_INVOICE, "Invoice")
    root = etree.Element(f"{{{namespace}}}{root_name}", nsmap={None: namespace, "cac": NS_CAC, "cbc": NS_CBC})
    b.text(root, _cbc("CustomizationID"), CUSTOMIZATION_ID)
    b.text(root, _cbc("ProfileID"), PROFILE_ID)
    b.text(root, _cbc("ID"), document.number)
    b.text(root, _cbc("IssueDate"), document.issue_date.isoformat())
    if not credit:
        b.text(root, _cbc("DueDate"), document.due_date.isoformat())
    b.text(root, _cbc("CreditNoteTypeCode" if credit else "InvoiceTypeCode"), "381" if credit else "380")
    # One document note at most (PEPPOL-EN16931-R002): the legal texts, e.g. why there is no VAT.
    b.optional(root, _cbc("Note"), " ".join(document.notes))
    b.text(root, _cbc("DocumentCurrencyCode"), document.currency)
    # Registration requires "Er referens"; an invoice from before that carries the buyer's name.
    b.text(root, _cbc("BuyerReference"), _clean(document.buyer.reference) or document.buyer.name)
    period = b.node(root, "InvoicePeriod")
    b.text(period, _cbc("StartDate"), min(line.period_start for line in document.lines).isoformat())
    b.text(period, _cbc("EndDate"), max(line.period_end for line in document.lines).isoformat())
    if credit and document.credited_number:
        reference = b.node(b.node(root, "BillingReference"), "InvoiceDocumentReference")
        b.text(reference, _cbc("ID"), document.credited_number)
        if document.credited_issue_date:
            b.text(reference, _cbc("IssueDate"), document.credited_issue_date.isoformat())
    if pdf is not None:
        _attachment(b, root, document, pdf)
    outside_scope = any(group.vat_category == "O" for group in document.vat_groups)
    _seller(b, root, document.seller, with_vat_number=not outside_scope)
    _buyer(b, root, document.buyer)
    if not credit:
        means = b.node(root, "PaymentMeans")
        b.text(means, _cbc("PaymentMeansCode"), PAYMENT_CREDIT_TRANSFER)
        b.text(means, _cbc("PaymentID"), document.ocr)
        account = b.node(means, "PayeeFinancialAccount")
        b.text(account, _cbc("ID"), only_digits(document.seller.bankgiro))
        b.text(b.node(account, "FinancialInstitutionBranch"), _cbc("ID"), BANKGIRO_BRANCH)
    terms = b.node(root, "PaymentTerms")
    if credit:
        b.text(terms, _cbc("Note"), f"Kreditering av faktura {document.credited_number or ''}".strip())
    else:
        b.text(terms, _cbc("Note"), f"{document.payment_terms_days} dagar netto, förfallodag "
                                    f"{document.due_date.isoformat()}")
    _tax_total(b, root, document)
    _monetary_total(b, root, document)
    for position, line in enumerate(document.lines, start=1):
        _line(b, root, position, line, credit)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
