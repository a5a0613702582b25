"""A test-side checker for the EN 16931 and Peppol BIS Billing 3.0 rules our e-invoices touch.

Not the official Schematron (that needs an XSLT 2 engine): a re-statement in
Python of the rules that apply to what the invoicing service generates, each
named by its official id (BR-*, BR-CO-*, BR-S-*, BR-O-*, BR-CL-*,
PEPPOL-EN16931-*, PEPPOL-COMMON-R049, SE-R-*), grouped in families. Each
family returns the violations it finds as ``"RULE-ID: what is wrong"``; an
empty list means the document passes that family. A few checks are our own,
stricter than the rules, and say so in their label: ``rounding``, ``credit
note``, ``SE VAT format``, ``OWN-O-RATE`` and ``SE`` (the Swedish rules apply).

Works on both an ``Invoice`` and a ``CreditNote`` root.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from lxml import etree
from stdnum import luhn

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
PEPPOL_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE = re.compile(r"^urn:fdc:peppol\.eu:2017:poacc:billing:[0-9]{2}:1\.0$")
# Code lists, restricted to what a Swedish seller could plausibly send (the full lists are longer;
# a code outside these is either wrong or something this product never emits).
ISO4217 = {"SEK", "EUR", "NOK", "DKK", "USD", "GBP"}
UNCL1001_INVOICE = {"380", "383", "386", "393", "82", "80", "84", "102", "218", "219", "331", "382",
                    "553", "575", "623", "780", "817", "870", "875", "876", "877"}
UNCL1001_CREDIT = {"381", "396", "81", "83", "532"}
UNCL4461 = {"1", "10", "20", "30", "31", "42", "48", "49", "57", "58", "59", "68", "97", "ZZZ"}
UNCL5305 = {"AE", "E", "S", "Z", "G", "O", "K", "L", "M", "B"}
EAS = {"0007", "0088", "0184", "0192", "0208", "9906", "9930"}  # the ones Nordic parties use
UNIT_CODES = {"C62", "EA", "H87", "ANN", "MON", "HUR", "DAY"}
MIME_CODES = {"application/pdf", "image/png", "image/jpeg", "text/csv",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "application/vnd.oasis.opendocument.spreadsheet"}
SWEDISH_RATES = {Decimal(25), Decimal(12), Decimal(6)}
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Check = Callable[[etree._Element], list[str]]


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _all(node: etree._Element, path: str) -> list[etree._Element]:
    found: list[etree._Element] = node.xpath(path, namespaces=NS)
    return found


def _one(node: etree._Element, path: str) -> etree._Element | None:
    found = _all(node, path)
    return found[0] if found else None


def _text(node: etree._Element, path: str) -> str:
    element = _one(node, path)
    return (element.text or "").strip() if element is not None else ""


def _amount(node: etree._Element, path: str) -> Decimal:
    text = _text(node, path)
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal("NaN")


def _is_credit_note(root: etree._Element) -> bool:
    return etree.QName(root).localname == "CreditNote"


def _lines(root: etree._Element) -> list[etree._Element]:
    return _all(root, "cac:CreditNoteLine" if _is_credit_note(root) else "cac:InvoiceLine")


def _quantity(line: etree._Element) -> etree._Element | None:
    return _one(line, "cbc:CreditedQuantity | cbc:InvoicedQuantity")


def _seller(root: etree._Element) -> etree._Element | None:
    return _one(root, "cac:AccountingSupplierParty/cac:Party")


def _buyer(root: etree._Element) -> etree._Element | None:
    return _one(root, "cac:AccountingCustomerParty/cac:Party")


def _seller_vat_id(root: etree._Element) -> str:
    return _text(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme"
                       "[cac:TaxScheme/cbc:ID = 'VAT']/cbc:CompanyID")


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _line_category(line: etree._Element) -> tuple[str, Decimal | None]:
    category = _one(line, "cac:Item/cac:ClassifiedTaxCategory")
    if category is None:
        return "", None
    percent = _text(category, "cbc:Percent")
    return _text(category, "cbc:ID"), Decimal(percent) if percent else None


def _subtotals(root: etree._Element) -> list[etree._Element]:
    return _all(root, "cac:TaxTotal/cac:TaxSubtotal")


# --- Rule families ---

def required_elements(root: etree._Element) -> list[str]:
    """BR-01..BR-16, BR-21..BR-26, BR-55 and the Peppol process rules: what must be there at all."""
    problems: list[str] = []
    type_code = "cbc:CreditNoteTypeCode" if _is_credit_note(root) else "cbc:InvoiceTypeCode"
    required = {
        "BR-01": "cbc:CustomizationID", "BR-02": "cbc:ID", "BR-03": "cbc:IssueDate", "BR-04": type_code,
        "BR-05": "cbc:DocumentCurrencyCode",
        "BR-06": "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "BR-07": "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
        "BR-08": "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress",
        "BR-09": "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
        "BR-10": "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress",
        "BR-11": "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode",
        "BR-12": "cac:LegalMonetaryTotal/cbc:LineExtensionAmount",
        "BR-13": "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
        "BR-14": "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
        "BR-15": "cac:LegalMonetaryTotal/cbc:PayableAmount",
        "PEPPOL-EN16931-R001": "cbc:ProfileID",
        "PEPPOL-EN16931-R010": "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID",
        "PEPPOL-EN16931-R020": "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID",
    }
    for rule, path in required.items():
        if not _text(root, path) and _one(root, path) is None:
            problems.append(f"{rule}: {path} is missing")
        elif _one(root, path) is not None and not _text(root, path) and not path.endswith("PostalAddress"):
            problems.append(f"{rule}: {path} is empty")
    if not _lines(root):
        problems.append("BR-16: the document has no line")
    for line in _lines(root):
        position = _text(line, "cbc:ID") or "?"
        quantity = _quantity(line)
        if not position or position == "?":
            problems.append("BR-21: a line has no identifier")
        if quantity is None or not (quantity.text or "").strip():
            problems.append(f"BR-22: line {position} has no quantity")
        elif not quantity.get("unitCode"):
            problems.append(f"BR-23: line {position} has no unit of measure")
        if not _text(line, "cbc:LineExtensionAmount"):
            problems.append(f"BR-24: line {position} has no net amount")
        if not _text(line, "cac:Item/cbc:Name"):
            problems.append(f"BR-25: line {position} has no item name")
        if not _text(line, "cac:Price/cbc:PriceAmount"):
            problems.append(f"BR-26: line {position} has no net price")
        elif _amount(line, "cac:Price/cbc:PriceAmount") < 0:
            problems.append(f"BR-27: line {position} has a negative price")
    if not _text(root, "cbc:BuyerReference") and not _text(root, "cac:OrderReference/cbc:ID"):
        problems.append("PEPPOL-EN16931-R003: neither a buyer reference nor an order reference")
    if not _text(root, "cbc:CustomizationID").startswith(PEPPOL_CUSTOMIZATION):
        problems.append("PEPPOL-EN16931-R004: CustomizationID is not Peppol BIS Billing 3.0's")
    if not PEPPOL_PROFILE.match(_text(root, "cbc:ProfileID")):
        problems.append("PEPPOL-EN16931-R007: ProfileID is not an approved business process")
    if len(_all(root, "cbc:Note")) > 1:
        problems.append("PEPPOL-EN16931-R002: more than one document note")
    for element in root.iter():
        if isinstance(element.tag, str) and len(element) == 0 and not (element.text or "").strip():
            problems.append(f"PEPPOL-EN16931-R008: empty element {etree.QName(element).localname}")
    for reference in _all(root, "cac:BillingReference/cac:InvoiceDocumentReference"):
        if not _text(reference, "cbc:ID"):
            problems.append("BR-55: a preceding invoice reference has no invoice number")
    if _is_credit_note(root) and not _all(root, "cac:BillingReference/cac:InvoiceDocumentReference"):
        problems.append("credit note: no BillingReference to the invoice it credits")
    if not any(_text(root, f"cac:AccountingSupplierParty/cac:Party/{path}") for path in (
            "cac:PartyIdentification/cbc:ID", "cac:PartyLegalEntity/cbc:CompanyID",
            "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'VAT']/cbc:CompanyID")):
        problems.append("BR-CO-26: no seller identifier, legal registration or VAT identifier")
    for path in ("cbc:IssueDate", "cbc:DueDate", "cac:InvoicePeriod/cbc:StartDate",
                 "cac:InvoicePeriod/cbc:EndDate", "cac:PaymentMeans/cbc:PaymentDueDate"):
        for element in _all(root, path):
            if not DATE.match((element.text or "").strip()):
                problems.append(f"PEPPOL-EN16931-F001: {path} is not a YYYY-MM-DD date")
    return problems


def code_lists(root: etree._Element) -> list[str]:
    """BR-CL-*: currency (ISO 4217), type code (UNCL1001), payment means (UNCL4461),
    VAT category (UNCL5305), electronic address scheme (EAS), unit (rec 20)."""
    problems: list[str] = []
    currency = _text(root, "cbc:DocumentCurrencyCode")
    if currency not in ISO4217:
        problems.append(f"BR-CL-04: currency {currency!r} is not an ISO 4217 code")
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("currencyID") not in (None, currency):
            problems.append(f"PEPPOL-EN16931-R051: {etree.QName(element).localname} is in "
                            f"{element.get('currencyID')}, not the document's {currency}")
    if _is_credit_note(root):
        if _text(root, "cbc:CreditNoteTypeCode") not in UNCL1001_CREDIT:
            problems.append("BR-CL-01: the credit note's type code is not a UNCL1001 credit note code")
    elif _text(root, "cbc:InvoiceTypeCode") not in UNCL1001_INVOICE:
        problems.append("BR-CL-01: the invoice's type code is not a UNCL1001 invoice code")
    for code in _all(root, "cac:PaymentMeans/cbc:PaymentMeansCode"):
        if (code.text or "").strip() not in UNCL4461:
            problems.append(f"BR-CL-16: payment means {code.text!r} is not a UNCL4461 code")
    for category in _all(root, "//cac:TaxCategory/cbc:ID | //cac:ClassifiedTaxCategory/cbc:ID"):
        if (category.text or "").strip() not in UNCL5305:
            problems.append(f"BR-CL-17/18: VAT category {category.text!r} is not a UNCL5305 code")
    for attachment in _all(root, "cac:AdditionalDocumentReference/cac:Attachment/"
                                 "cbc:EmbeddedDocumentBinaryObject"):
        if attachment.get("mimeCode") not in MIME_CODES:
            problems.append(f"BR-CL-24: attachment type {attachment.get('mimeCode')!r} is not allowed")
        if not attachment.get("filename"):
            problems.append("BR-CL-24/UBL: an embedded attachment has no filename")
    for endpoint in _all(root, "//cbc:EndpointID"):
        if endpoint.get("schemeID") not in EAS:
            problems.append(f"BR-CL-25: electronic address scheme {endpoint.get('schemeID')!r} is not EAS")
    for line in _lines(root):
        quantity = _quantity(line)
        if quantity is not None and quantity.get("unitCode") not in UNIT_CODES:
            problems.append(f"BR-CL-23: unit {quantity.get('unitCode')!r} is not a rec 20 code")
    return problems


def totals(root: etree._Element) -> list[str]:
    """BR-CO-10, -13, -14, -15, -16, BR-DEC-*, PEPPOL-EN16931-R120: the amounts add up."""
    problems: list[str] = []
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("currencyID") is not None:
            text = (element.text or "").strip()
            if not re.match(r"^-?[0-9]+(\.[0-9]{1,2})?$", text):
                problems.append(f"BR-DEC: {etree.QName(element).localname} {text!r} is not an amount "
                                "with at most two decimals")
    lines = _lines(root)
    line_sum = sum((_amount(line, "cbc:LineExtensionAmount") for line in lines), Decimal(0))
    total = "cac:LegalMonetaryTotal/cbc:"
    line_extension = _amount(root, total + "LineExtensionAmount")
    tax_exclusive = _amount(root, total + "TaxExclusiveAmount")
    tax_inclusive = _amount(root, total + "TaxInclusiveAmount")
    allowances = _amount(root, total + "AllowanceTotalAmount")
    charges = _amount(root, total + "ChargeTotalAmount")
    prepaid = _amount(root, total + "PrepaidAmount")
    rounding = _amount(root, total + "PayableRoundingAmount")
    payable = _amount(root, total + "PayableAmount")
    vat_total = _amount(root, "cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount")
    subtotal_vat = sum((_amount(s, "cbc:TaxAmount") for s in _subtotals(root)), Decimal(0))
    if line_extension != line_sum:
        problems.append(f"BR-CO-10: LineExtensionAmount {line_extension} != sum of lines {line_sum}")
    if tax_exclusive != line_extension - allowances + charges:
        problems.append(f"BR-CO-13: TaxExclusiveAmount {tax_exclusive} != lines - allowances + charges")
    if vat_total != subtotal_vat:
        problems.append(f"BR-CO-14: total VAT {vat_total} != sum of the categories' VAT {subtotal_vat}")
    if tax_inclusive != tax_exclusive + vat_total:
        problems.append(f"BR-CO-15: TaxInclusiveAmount {tax_inclusive} != {tax_exclusive} + {vat_total}")
    if payable != tax_inclusive - prepaid + rounding:
        problems.append(f"BR-CO-16: PayableAmount {payable} != {tax_inclusive} - {prepaid} + {rounding}")
    if abs(rounding) >= 1:
        problems.append(f"rounding: PayableRoundingAmount {rounding} is more than a rounding")
    if rounding and payable % 1 != 0:
        problems.append(f"rounding: PayableAmount {payable} with a rounding is not whole kronor")
    for line in lines:
        quantity = _quantity(line)
        amount = Decimal((quantity.text or "0").strip()) if quantity is not None else Decimal(0)
        price = _amount(line, "cac:Price/cbc:PriceAmount")
        base = _amount(line, "cac:Price/cbc:BaseQuantity") or Decimal(1)
        if _round(amount * price / base) != _amount(line, "cbc:LineExtensionAmount"):
            problems.append(f"PEPPOL-EN16931-R120: line {_text(line, 'cbc:ID')} amount != quantity × price")
    if len(_all(root, "cac:TaxTotal[cac:TaxSubtotal]")) != 1:
        problems.append("PEPPOL-EN16931-R053: not exactly one TaxTotal with subtotals")
    if payable > 0 and not (_text(root, "cbc:DueDate") or _text(root, "cac:PaymentTerms/cbc:Note")
                            or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate")):
        problems.append("BR-CO-25: an amount is due but there is neither a due date nor payment terms")
    return problems


def vat_breakdown(root: etree._Element) -> list[str]:
    """BR-CO-17/18, BR-S-*, BR-O-*: one breakdown per category and rate, consistent with the lines."""
    problems: list[str] = []
    subtotals = _subtotals(root)
    if not subtotals:
        problems.append("BR-CO-18: no VAT breakdown")
    lines_by_key: dict[tuple[str, Decimal | None], Decimal] = {}
    for line in _lines(root):
        category, rate = _line_category(line)
        if not category:
            problems.append(f"BR-CO-04: line {_text(line, 'cbc:ID')} has no VAT category")
            continue
        key = (category, rate)
        lines_by_key[key] = lines_by_key.get(key, Decimal(0)) + _amount(line, "cbc:LineExtensionAmount")
        if category == "S" and (rate is None or rate <= 0):
            problems.append(f"BR-S-05: standard-rated line {_text(line, 'cbc:ID')} has no positive rate")
        if category == "O" and rate is not None:
            problems.append(f"BR-O-05: line {_text(line, 'cbc:ID')} outside the scope of VAT has a rate")
    breakdown: dict[tuple[str, Decimal | None], etree._Element] = {}
    for subtotal in subtotals:
        category = _text(subtotal, "cac:TaxCategory/cbc:ID")
        percent = _text(subtotal, "cac:TaxCategory/cbc:Percent")
        rate = Decimal(percent) if percent else None
        breakdown[(category, rate)] = subtotal
        taxable = _amount(subtotal, "cbc:TaxableAmount")
        tax = _amount(subtotal, "cbc:TaxAmount")
        reason = (_text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason")
                  or _text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode"))
        expected_taxable = lines_by_key.get((category, rate), Decimal(0))
        if category == "S":
            if taxable != expected_taxable:
                problems.append(f"BR-S-08: taxable at {rate} % is {taxable}, lines say {expected_taxable}")
            if rate is None or tax != _round(taxable * rate / 100):
                problems.append(f"BR-S-09/BR-CO-17: VAT at {rate} % on {taxable} is not {tax}")
            if reason:
                problems.append("BR-S-10: a standard-rated breakdown has an exemption reason")
        if category == "O":
            if taxable != expected_taxable:
                problems.append(f"BR-O-08: outside-scope taxable {taxable} != lines {expected_taxable}")
            if tax != 0:
                problems.append(f"BR-O-09: outside-scope VAT amount is {tax}, not 0")
            # BR-O-10: a reason code meaning "not subject to VAT" or a reason text; either will do.
            code = _text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReasonCode")
            if code != "VATEX-EU-O" and not _text(subtotal, "cac:TaxCategory/cbc:TaxExemptionReason"):
                problems.append(f"BR-O-10: outside-scope breakdown without the reason code VATEX-EU-O "
                                f"(has {code!r}) or an exemption reason text")
            if rate is not None:
                # Stricter than EN 16931, which has no rule against it (BR-48 only lets the rate be
                # absent for O); BR-O-05/06/07 forbid the rate on O lines, allowances and charges.
                problems.append(f"OWN-O-RATE: outside-scope breakdown has the rate {rate}")
    if set(lines_by_key) != set(breakdown):
        problems.append(f"BR-S-01/BR-O-01: line categories {sorted(map(str, lines_by_key))} "
                        f"!= breakdown {sorted(map(str, breakdown))}")
    categories = {category for category, _ in breakdown}
    if "O" in categories and len(breakdown) > 1:
        problems.append("BR-O-11: an outside-scope breakdown beside other VAT breakdowns")
    if "O" in categories and any(category != "O" for category, _ in lines_by_key):
        problems.append("BR-O-12: an outside-scope breakdown, yet a line in another VAT category")
    if "S" in categories and not _seller_vat_id(root):
        problems.append("BR-S-02: standard-rated lines but no seller VAT identifier")
    if "O" in categories and (_seller_vat_id(root) or _text(
            root, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'VAT']"
                  "/cbc:CompanyID")):
        problems.append("BR-O-02: outside the scope of VAT, yet a seller or buyer VAT identifier")
    return problems


def _valid_orgnr(text: str) -> bool:
    return len(text) == 10 and text.isdigit() and luhn.is_valid(text)


def swedish(root: etree._Element) -> list[str]:
    """SE-R-001..SE-R-013 (those a Bankgiro-paid, Swedish seller meets) and PEPPOL-COMMON-R049."""
    problems: list[str] = []
    seller = _seller(root)
    if seller is None or _text(seller, "cac:PostalAddress/cac:Country/cbc:IdentificationCode") != "SE":
        return ["SE: the seller is not in Sweden; the Swedish rules did not apply"]
    vat_id = _seller_vat_id(root)
    if vat_id.startswith("SE"):
        if len(vat_id) != 14:
            problems.append(f"SE-R-001: VAT number {vat_id!r} is not 14 characters")
        if not vat_id[2:].isdigit():
            problems.append(f"SE-R-002: VAT number {vat_id!r} does not end in 12 digits")
        elif not vat_id.endswith("01") or not _valid_orgnr(vat_id[2:12]):
            problems.append(f"SE VAT format: {vat_id!r} is not SE + a valid organisationsnummer + 01")
    legal_id = _text(seller, "cac:PartyLegalEntity/cbc:CompanyID")
    if legal_id:
        if not legal_id.isdigit():
            problems.append(f"SE-R-003: organisationsnummer {legal_id!r} is not numeric")
        if len(legal_id) != 10:
            problems.append(f"SE-R-004: organisationsnummer {legal_id!r} is not 10 characters")
        if legal_id.isdigit() and not luhn.is_valid(legal_id):
            problems.append(f"SE-R-013: organisationsnummer {legal_id!r} fails the Luhn check")
    for company_id in _all(seller, "cac:PartyTaxScheme[normalize-space(cac:TaxScheme/cbc:ID) != 'VAT']"
                                   "/cbc:CompanyID"):
        if (company_id.text or "").strip().upper() != "GODKÄND FÖR F-SKATT":
            problems.append(f"SE-R-005: tax registration {company_id.text!r} is not 'Godkänd för F-skatt'")
    if vat_id.startswith("SE"):
        standard = "//cac:TaxCategory[cbc:ID = 'S'] | //cac:ClassifiedTaxCategory[cbc:ID = 'S']"
        for category in _all(root, standard):
            percent = _text(category, "cbc:Percent")
            if Decimal(percent or "0") not in SWEDISH_RATES:
                problems.append(f"SE-R-006: standard rate {percent} is not 6, 12 or 25")
    for means in _all(root, "cac:PaymentMeans"):
        code = _text(means, "cbc:PaymentMeansCode")
        branch = _text(means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID")
        account = _text(means, "cac:PayeeFinancialAccount/cbc:ID")
        if code == "30" and branch == "SE:BANKGIRO":
            if not account.isdigit():
                problems.append(f"SE-R-008: Bankgiro account {account!r} is not numeric")
            if len(account) not in (7, 8):
                problems.append(f"SE-R-009: Bankgiro account {account!r} is not 7-8 characters")
        if code == "30" and branch == "SE:PLUSGIRO":
            if not account.isdigit():
                problems.append(f"SE-R-007: Plusgiro account {account!r} is not numeric")
            if not 2 <= len(account) <= 8:
                problems.append(f"SE-R-010: Plusgiro account {account!r} is not 2-8 characters")
        if code in ("50", "56"):
            problems.append("SE-R-011: Bankgiro/Plusgiro must be code 30 with SE:BANKGIRO or SE:PLUSGIRO")
        if code == "31" and _text(root, "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cac:Country"
                                        "/cbc:IdentificationCode") == "SE":
            problems.append("SE-R-012: a domestic credit transfer is code 30, not 31")
        if code in ("30", "58") and not account:
            problems.append("BR-61: credit transfer without the payee's account")
    orgnr_ids = "//cbc:EndpointID[@schemeID = '0007'] | //cbc:CompanyID[@schemeID = '0007']"
    for identifier in _all(root, orgnr_ids):
        if not _valid_orgnr((identifier.text or "").strip()):
            problems.append(f"PEPPOL-COMMON-R049: {identifier.text!r} is not a valid Swedish "
                            "organisationsnummer (10 digits, Luhn)")
    return problems


FAMILIES: dict[str, Check] = {
    "required elements": required_elements,
    "code lists": code_lists,
    "totals": totals,
    "VAT breakdown": vat_breakdown,
    "Swedish rules": swedish,
}


def violations(xml: bytes) -> list[str]:
    """Every family's violations for one document."""
    root = parse(xml)
    return [problem for check in FAMILIES.values() for problem in check(root)]
