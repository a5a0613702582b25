"""The invoice as ready-made strings for the PDF: Swedish amounts and dates, user text made printable.

The layout (:mod:`services.invoicing.pdf_layout`) only places these strings;
no value is formatted or interpreted there.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from services.invoicing.document import InvoiceDocument
from services.invoicing.domain import format_rate
from shared.money import format_sek

TITLES = {"invoice": "Faktura", "credit_note": "Kreditfaktura"}
MINUS = "\u2212"


def _amount(value: Decimal) -> str:
    """``4 000,00``: the Swedish format without the currency, which the columns state."""
    return format_sek(value).removesuffix("\u00a0kr")


def _period(start: date, end: date) -> str:
    return f"{start.isoformat()}–{end.isoformat()}"


def _vat_rows(document: InvoiceDocument) -> list[dict[str, str]]:
    """Per VAT rate: the taxable amount (underlag) and the VAT, as ML ch. 17 § 24 asks."""
    rows = []
    for group in document.vat_groups:
        if group.vat_category == "S":
            rows.append({"label": f"Underlag moms {format_rate(group.rate)}", "amount": _amount(group.net)})
            rows.append({"label": f"Moms {format_rate(group.rate)}", "amount": _amount(group.vat)})
        else:
            rows.append({"label": "Belopp utan moms (utanför momsens tillämpningsområde)",
                         "amount": _amount(group.net)})
            rows.append({"label": "Moms", "amount": _amount(group.vat)})
    return rows


def _credit_reference(document: InvoiceDocument) -> str:
    if document.kind != "credit_note" or not document.credited_number:
        return ""
    date_text = f" ({document.credited_issue_date.isoformat()})" if document.credited_issue_date else ""
    return f"Avser faktura {document.credited_number}{date_text}"


def _payment_instruction(document: InvoiceDocument) -> str:
    seller = document.seller
    if document.kind == "credit_note":
        return (f"Kreditfakturan minskar det ni ska betala till {seller.name}; ett redan betalt belopp "
                f"betalas tillbaka. Frågor om kreditfakturan: {seller.email}.")
    return (f"Betala till bankgiro {seller.bankgiro} senast {document.due_date.isoformat()} "
            f"och ange OCR-nummer {document.ocr}. Frågor om fakturan: {seller.email}.")


def _printable(value: Any) -> Any:
    """Every string one line of visible text: line breaks and tabs become spaces, control and
    format characters (bidi overrides, zero-width marks, soft hyphens) are dropped."""
    if isinstance(value, str):
        if value.isprintable():  # the common case, and no control or format character in it
            return value
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
        return "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf"))
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def view_model(document: InvoiceDocument) -> dict[str, Any]:
    """Everything the layout prints, as ready-made strings (user text made printable)."""
    seller, buyer = document.seller, document.buyer
    credit = document.kind == "credit_note"
    return _printable({
        "title": TITLES[document.kind],
        "credit_reference": _credit_reference(document),
        # A credit note asks for no payment: no due date, OCR or Bankgiro box.
        "asks_payment": not credit,
        "credited_number": document.credited_number or "",
        "number": document.number,
        "issue_date": document.issue_date.isoformat(),
        "due_date": document.due_date.isoformat(),
        "terms": f"{document.payment_terms_days} dagar netto",
        "ocr": document.ocr,
        "currency": document.currency,
        "seller": {
            "name": seller.name,
            "street": seller.street,
            "postal_city": f"{seller.postal_code} {seller.city}",
            "org_number": seller.org_number,
            "vat_number": seller.vat_number,
            "bankgiro": seller.bankgiro,
            "email": seller.email,
            "phone": seller.phone,
            "website": seller.website,
            "reference": seller.reference,
            "f_tax": "Innehar F-skattsedel" if seller.f_tax else "",
        },
        "buyer": {
            "name": buyer.name,
            "street": buyer.street,
            "postal_city": f"{buyer.postal_code} {buyer.city}",
            "org_number": buyer.org_number,
            "email": buyer.invoice_email,
            "reference": buyer.reference or "–",
        },
        "lines": [
            {
                "network": line.network_name,
                "description": line.description,
                "period": _period(line.period_start, line.period_end),
                "vat": format_rate(line.vat_rate) if line.vat_category == "S" else "–",
                "amount": _amount(line.amount),
            }
            for line in document.lines
        ],
        "net": _amount(document.net),
        "vat_groups": _vat_rows(document),
        "rounding": _amount(document.rounding) if document.rounding else "",
        "total_label": "Kreditbelopp" if credit else "Att betala",
        "total": _amount(document.payable),
        "notes": list(document.notes),
        "payment_instruction": _payment_instruction(document),
    })
