"""Invoice PDFs with Typst: one warm compiler, data passed as JSON, never spliced into markup.

``templates/invoice.typ`` reads the invoice from ``data.json`` beside it (in
the renderer's private copy of the template). Python formats every value
first (Swedish amounts and dates), so the template only lays out text, and
user input can never become Typst source.

Timing: a fresh ``typst.compile`` costs several ms (fonts, parsing); one
``typst.Compiler`` kept for the process life renders a new invoice in a few
ms. ``python -m services.invoicing.pdf --bench`` prints the median.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import typst

from services.invoicing.document import Buyer, InvoiceDocument, Seller, VatGroupLine
from services.invoicing.domain import FeeDecision, Outcome, build_invoice, format_rate
from services.invoicing.ocr import ocr_reference
from shared.events import MembershipInfo
from shared.money import format_sek

TEMPLATE = Path(__file__).parent / "templates" / "invoice.typ"
TITLES = {"invoice": "Faktura", "credit_note": "Kreditfaktura"}


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


def view_model(document: InvoiceDocument) -> dict[str, Any]:
    """Everything the template prints, as ready-made strings."""
    seller, buyer = document.seller, document.buyer
    credit = document.kind == "credit_note"
    return {
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
    }


class InvoiceRenderer:
    """A warm Typst compiler, one render at a time.

    ``Compiler.compile`` takes the compiler exclusively (``&mut self`` in the
    binding): a second thread calling it meanwhile gets "Already borrowed", so
    a lock serialises renders. The binding releases the GIL while compiling,
    so the event loop keeps serving requests during a render.
    """

    def __init__(self, template: Path = TEMPLATE) -> None:
        # The template and each invoice's data.json in a directory of this renderer's own.
        # Data through a file rather than ``sys_inputs``: setting those rebuilds Typst's
        # standard library, which also voids the layouts it had cached (~12 % of a render).
        self._workdir = tempfile.TemporaryDirectory(prefix="reglab-invoice-")
        root = Path(self._workdir.name)
        shutil.copyfile(template, root / template.name)
        self._data = root / "data.json"
        # Only Typst's embedded fonts: the same PDF on every machine, å ä ö included.
        self._compiler = typst.Compiler(str(root / template.name), root=str(root),
                                        ignore_system_fonts=True)
        self._lock = threading.Lock()

    def render(self, document: InvoiceDocument) -> bytes:
        data = json.dumps(view_model(document), ensure_ascii=False).encode()
        # The issue date as the PDF's creation time: the same invoice renders the same bytes.
        timestamp = datetime.combine(document.issue_date, clock_time(), tzinfo=UTC)
        with self._lock:
            self._data.write_bytes(data)
            pdf = self._compiler.compile(timestamp=timestamp)
        if not isinstance(pdf, bytes):
            raise RuntimeError("typst returned no single PDF document")
        return pdf


_renderer: InvoiceRenderer | None = None
_renderer_lock = threading.Lock()


def default_renderer() -> InvoiceRenderer:
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = InvoiceRenderer()
        return _renderer


def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice as a PDF (bytes), rendered by the process's warm compiler."""
    return default_renderer().render(document)


SAMPLE_VAT_NOTE = ("Avgiften är inte momspliktig: den ligger utanför mervärdesskattelagens "
                   "tillämpningsområde (ML 2023:200).")


def sample_document(buyer_name: str = "Region Västerbotten", lines: int = 2, *,
                    outside_scope: bool = False, round_to_krona: bool = False,
                    fee: Decimal = Decimal("4000.00"), buyer_reference: str = "Åsa Öberg",
                    buyer_street: str = "Storgatan 71") -> InvoiceDocument:
    """A realistic invoice for benchmarks, tests and trying out the layout.

    ``outside_scope`` bills as a year whose policy puts the fee outside the
    scope of VAT; ``round_to_krona`` turns öresavrundning on.
    """
    networks = [("ung-region", "Ung region"), ("rus", "RUS-nätverket"),
                ("fysisk-planering", "Fysisk planering"), ("integration", "Integrationsnätverket")]
    decisions = [
        FeeDecision(
            MembershipInfo(membership_id=i + 1, network_code=code, network_name=name, year=2018,
                           created=True, fee_exempt=False),
            Outcome.INVOICED, amount=fee, vat_rate=Decimal(0) if outside_scope else Decimal("0.25"),
            vat_note=SAMPLE_VAT_NOTE if outside_scope else "",
        )
        for i, (code, name) in enumerate(networks[:lines])
    ]
    return build_invoice(
        number="2018-00042", issue_date=date(2018, 2, 1), payment_terms_days=30,
        seller=Seller(name="Reglab", org_number="802426-0005", vat_number="SE802426000501",
                      street="Box 1234", postal_code="111 22", city="Stockholm",
                      bankgiro="5050-1055", email="ekonomi@reglab.example", phone="08-123 456 00",
                      website="www.reglab.se", reference="Kansliet"),
        buyer=Buyer(organisation_id=1, name=buyer_name, org_number="232100-0222",
                    street=buyer_street, postal_code="901 86", city="Umeå",
                    invoice_email="faktura@regionvasterbotten.example", reference=buyer_reference),
        decisions=decisions, round_to_krona=round_to_krona,
    )


def sample_credit_note(invoice: InvoiceDocument | None = None, number: str = "2018-00057",
                       issue_date: date = date(2018, 3, 15)) -> InvoiceDocument:
    """A credit note for all of ``invoice`` (the sample invoice by default): the same lines, negated.

    Shaped the way the cancellation handler issues them: kind ``credit_note``,
    the credited invoice's number and date, negative amounts.
    """
    invoice = invoice or sample_document()
    return invoice.model_copy(update={
        "number": number, "kind": "credit_note", "issue_date": issue_date, "due_date": issue_date,
        "payment_terms_days": 0, "ocr": ocr_reference(number),
        "credited_number": invoice.number, "credited_issue_date": invoice.issue_date,
        "lines": tuple(line.model_copy(update={"amount": -line.amount}) for line in invoice.lines),
        "vat_groups": tuple(VatGroupLine(rate=g.rate, net=-g.net, vat=-g.vat) for g in invoice.vat_groups),
        "net": -invoice.net, "vat": -invoice.vat, "total": -invoice.total, "rounding": -invoice.rounding,
    })


def median_render_ms(n: int = 200) -> float:
    """Median wall time of one render with the warm compiler, in milliseconds.

    Every render is a different invoice (number, OCR, buyer), as in production:
    Typst memoises layout, so timing one document over and over would flatter it.
    """
    base = sample_document()
    documents = [
        base.model_copy(update={
            "number": f"2018-{i + 1:05d}",
            "ocr": ocr_reference(f"2018-{i + 1:05d}"),
            "buyer": base.buyer.model_copy(update={"name": f"{base.buyer.name} {i + 1}"}),
        })
        for i in range(n + 1)
    ]
    renderer = default_renderer()
    renderer.render(documents[0])  # warm-up: the first compile loads fonts and parses the template
    timings = []
    for document in documents[1:]:
        start = time.perf_counter()
        renderer.render(document)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render or time the invoice PDF.")
    parser.add_argument("--bench", action="store_true", help="print the median render time (JSON)")
    parser.add_argument("-n", type=int, default=200, help="renders to time")
    parser.add_argument("--sample", type=Path, help="write a sample invoice PDF to this path")
    args = parser.parse_args(argv)
    if args.sample:
        args.sample.write_bytes(render_invoice_pdf(sample_document()))
        print(f"wrote {args.sample}")
    if args.bench or not args.sample:
        median = median_render_ms(args.n)
        sys.stdout.write(json.dumps({"pdf_render_median_ms": round(median, 3), "n": args.n}) + "\n")


if __name__ == "__main__":
    main()
