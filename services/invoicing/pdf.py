"""Invoice PDFs with ReportLab: drawn on the canvas from ready-made strings, never parsed as markup.

Python formats every value first (Swedish amounts and dates, see
:mod:`pdf_view`); the layout (:mod:`pdf_layout`) only places those strings with
one text object per page and wraps them at spaces (:func:`wrap`). No
Paragraph markup is used, so a buyer named ``<b>x</b> <font size=40>`` or
``#set text(red)`` prints literally.

Fonts: the PDF base-14 Helvetica (not embedded, WinAnsi encoding) whenever
every string of the document fits Windows-1252, which covers Swedish and
most Western European names; ReportLab draws the minus sign of negative
amounts (U+2212) from the base-14 Symbol font. A document with any other
character (a Czech "ř", a Sami "ŋ", a Polish "Ł") is drawn instead in the
vendored DejaVu Sans (``fonts/``, Bitstream Vera licence), subset and
embedded, so the name prints as typed.

Cost (``python -m services.invoicing.pdf --bench`` prints it): about 1.5-2 ms
and 3 KB for a Helvetica invoice, about 5 ms and 45 KB with the embedded
font. Page streams are compressed (no measurable time, 2.5 times smaller).
The same document always renders the same bytes (creation date = issue date).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from services.invoicing.document import Buyer, InvoiceDocument, Seller, VatGroupLine
from services.invoicing.domain import FeeDecision, Outcome, build_invoice
from services.invoicing.ocr import ocr_reference
from services.invoicing.pdf_layout import BASE14, UNICODE, Layout, draw_page, fits_base14
from services.invoicing.pdf_view import view_model
from shared.events import MembershipInfo

# Compressed streams as binary, not ASCII85 text: the sample invoice 3.0 KB instead of 3.4 KB.
# (A process-wide ReportLab setting; this module is ReportLab's only user.)
rl_config.useA85 = 0

FONT_DIR = Path(__file__).parent / "fonts"


def _timestamp(day: date) -> TimeStamp:
    """The issue date (midnight UTC) as ReportLab's creation and modification time."""
    stamp = TimeStamp(invariant=True)
    seconds = (day - date(1970, 1, 1)).days * 86400
    stamp.t = seconds
    stamp.lt = time.gmtime(seconds)
    stamp.YMDhms = tuple(stamp.lt)[:6]
    return stamp


class InvoiceRenderer:
    """Renders invoices; made once per process, when it registers the fallback TrueType fonts.

    Helvetica needs nothing loaded. DejaVu Sans is read once here (~20 ms);
    ReportLab then embeds only the glyphs each document uses. A lock keeps
    renders one at a time, as ReportLab's per-font subset state is shared.
    """

    def __init__(self, font_dir: Path = FONT_DIR, *, compress: bool = True) -> None:
        registered = pdfmetrics.getRegisteredFontNames()
        for name, file in ((UNICODE.regular, "DejaVuSans.ttf"), (UNICODE.bold, "DejaVuSans-Bold.ttf")):
            if name not in registered:
                pdfmetrics.registerFont(TTFont(name, str(font_dir / file)))
        self._compress = compress
        self._lock = threading.Lock()

    def render(self, document: InvoiceDocument) -> bytes:
        model = view_model(document)
        fonts = BASE14 if fits_base14(model) else UNICODE
        buffer = io.BytesIO()
        with self._lock:
            pages = Layout(model, fonts).build()
            canvas = Canvas(buffer, pagesize=A4, invariant=True, pageCompression=self._compress,
                            lang="sv-SE", initialFontName=fonts.regular)
            # The issue date as the PDF's creation time: the same invoice renders the same bytes.
            canvas._doc._timeStamp = _timestamp(document.issue_date)
            canvas.setTitle(f"{model['title']} {model['number']}")
            canvas.setAuthor(model["seller"]["name"])
            canvas.setCreator("Reglab Nätverk")
            for ops in pages:
                draw_page(canvas, ops)
                canvas.showPage()
            canvas.save()
        return buffer.getvalue()


_renderer: InvoiceRenderer | None = None
_renderer_lock = threading.Lock()


def default_renderer() -> InvoiceRenderer:
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = InvoiceRenderer()
        return _renderer


def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice as a PDF (bytes)."""
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


def _bench_documents(n: int, buyer_name: str) -> list[InvoiceDocument]:
    base = sample_document(buyer_name=buyer_name)
    return [
        base.model_copy(update={
            "number": f"2018-{i + 1:05d}",
            "ocr": ocr_reference(f"2018-{i + 1:05d}"),
            "buyer": base.buyer.model_copy(update={"name": f"{buyer_name} {i + 1}"}),
        })
        for i in range(n + 1)
    ]


def median_render_ms(n: int = 200, buyer_name: str = "Region Västerbotten") -> float:
    """Median wall time of one render, in milliseconds, over ``n`` different invoices (number, OCR, buyer).

    A buyer name outside Windows-1252 (say ``"Obec Dolní Břežany"``) times the embedded-font path.
    """
    documents = _bench_documents(n, buyer_name)
    renderer = default_renderer()
    renderer.render(documents[0])  # warm-up
    timings = []
    for document in documents[1:]:
        start = time.perf_counter()
        renderer.render(document)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


FALLBACK_SAMPLE_NAME = "Obec Dolní Břežany"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render or time the invoice PDF.")
    parser.add_argument("--bench", action="store_true",
                        help="print median render times and sizes, Helvetica and embedded font (JSON)")
    parser.add_argument("-n", type=int, default=200, help="renders to time")
    parser.add_argument("--sample", type=Path, help="write a sample invoice PDF to this path")
    args = parser.parse_args(argv)
    if args.sample:
        args.sample.write_bytes(render_invoice_pdf(sample_document()))
        print(f"wrote {args.sample}")
    if args.bench or not args.sample:
        result = {
            "pdf_render_median_ms": round(median_render_ms(args.n), 3),
            "pdf_bytes": len(render_invoice_pdf(sample_document())),
            "fallback_font_render_median_ms": round(median_render_ms(args.n, FALLBACK_SAMPLE_NAME), 3),
            "fallback_font_pdf_bytes": len(render_invoice_pdf(sample_document(FALLBACK_SAMPLE_NAME))),
            "n": args.n,
        }
        sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
