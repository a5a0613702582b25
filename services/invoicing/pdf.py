"""Invoice PDFs with ReportLab: drawn on the canvas from ready-made strings, never parsed as markup.

Python formats every value first (Swedish amounts and dates, see
:func:`view_model`); the layout below only places those strings with
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
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from services.invoicing.document import Buyer, InvoiceDocument, Seller, VatGroupLine
from services.invoicing.domain import FeeDecision, Outcome, build_invoice, format_rate
from services.invoicing.ocr import ocr_reference
from shared.events import MembershipInfo
from shared.money import format_sek

# Compressed streams as binary, not ASCII85 text: the sample invoice 3.0 KB instead of 3.4 KB.
# (A process-wide ReportLab setting; this module is ReportLab's only user.)
rl_config.useA85 = 0

FONT_DIR = Path(__file__).parent / "fonts"
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




# --- Fonts ---

class Fonts(NamedTuple):
    regular: str
    bold: str


BASE14 = Fonts("Helvetica", "Helvetica-Bold")
UNICODE = Fonts("DejaVuSans", "DejaVuSans-Bold")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def fits_base14(model: dict[str, Any]) -> bool:
    """True when Helvetica can print every string: all of it in Windows-1252 but our minus sign,
    which ReportLab takes from the base-14 Symbol font."""
    try:
        for text in _strings(model):
            text.replace(MINUS, "").encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


# --- Page geometry and colours (those of the former Typst template) ---

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 22 * mm
RIGHT = PAGE_WIDTH - 20 * mm
WIDTH = RIGHT - LEFT
TOP = PAGE_HEIGHT - 18 * mm
BOTTOM = 36 * mm  # content ends here; the footer lies below
FOOTER_TOP = 29 * mm

BRAND = HexColor("#00615f")
INK = HexColor("#1d2a33")
MUTED = HexColor("#5b6b75")
HAIRLINE = HexColor("#d8dee2")
TINT = HexColor("#e6f2f1")

# The lines table: description, period, VAT and amount columns; cells padded by PAD.
PAD = 4
COL_PERIOD = LEFT + WIDTH - (50 + 16 + 34) * mm
COL_VAT = LEFT + WIDTH - (16 + 34) * mm
COL_AMOUNT = LEFT + WIDTH - 34 * mm


@dataclass
class Text:
    x: float
    y: float
    text: str
    font: str
    size: float
    color: Color
    align: str = "left"


@dataclass
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    color: Color


@dataclass
class Box:
    x: float
    y: float
    width: float
    height: float
    color: Color


Op = Text | Rule | Box


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``, broken at spaces only (a no-break space, as in
    ``10 000,00``, holds); a word longer than a line is cut where it must be."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return [text]
    space = pdfmetrics.stringWidth(" ", font, size)
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for word in text.split(" "):
        if not word:
            continue
        word_width = pdfmetrics.stringWidth(word, font, size)
        if line and used + space + word_width <= width:
            line.append(word)
            used += space + word_width
            continue
        if line:
            lines.append(" ".join(line))
        while word_width > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and pdfmetrics.stringWidth(word[:cut], font, size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
            word_width = pdfmetrics.stringWidth(word, font, size)
        line, used = [word], word_width
    if line:
        lines.append(" ".join(line))
    return lines or [""]


@dataclass
class Layout:
    """Lays the invoice out top to bottom into pages of drawing operations.

    Drawn only once every page is known, so each footer can say "Sida 1 av 2".
    """

    model: dict[str, Any]
    fonts: Fonts
    pages: list[list[Op]] = field(default_factory=lambda: [[]])
    y: float = TOP

    # -- primitives --

    def text(self, x: float, y: float, text: str, size: float = 10, *, bold: bool = False,
             color: Color = INK, align: str = "left") -> None:
        font = self.fonts.bold if bold else self.fonts.regular
        self.pages[-1].append(Text(x, y, text, font, size, color, align))

    def lines(self, x: float, y: float, text: str, width: float, size: float = 10, *, bold: bool = False,
              color: Color = INK, align: str = "left", leading: float | None = None) -> float:
        """``text`` wrapped to ``width`` with its first baseline at ``y``; returns the last baseline."""
        font = self.fonts.bold if bold else self.fonts.regular
        leading = leading or size * 1.25
        for i, line in enumerate(wrap(text, font, size, width)):
            self.text(x, y - i * leading, line, size, bold=bold, color=color, align=align)
        return y - i * leading

    def rule(self, x1: float, y: float, x2: float, width: float = 0.5, color: Color = HAIRLINE) -> None:
        self.pages[-1].append(Rule(x1, y, x2, y, width, color))

    def count(self, text: str, width: float, size: float = 10, *, bold: bool = False) -> int:
        return len(wrap(text, self.fonts.bold if bold else self.fonts.regular, size, width))

    def need(self, height: float) -> bool:
        """Start a new page unless ``height`` fits above the footer; True if a page was started."""
        if self.y - height >= BOTTOM:
            return False
        self.pages.append([])
        self.y = TOP
        self.running_header()
        return True

    # -- blocks --

    def running_header(self) -> None:
        """On every page after the first: whose invoice this is, in one line."""
        m = self.model
        self.text(LEFT, self.y - 9, m["seller"]["name"], 10, bold=True, color=BRAND)
        self.text(RIGHT, self.y - 9, f"{m['title']} {m['number']}", 10, color=MUTED, align="right")
        self.rule(LEFT, self.y - 14, RIGHT)
        self.y -= 14 + 8 * mm

    def header(self) -> None:
        m, seller = self.model, self.model["seller"]
        title = m["title"].upper()
        right_width = max(pdfmetrics.stringWidth(title, self.fonts.bold, 24), 72 * mm)
        left_width = WIDTH - right_width - 6 * mm
        left = self.lines(LEFT, self.y - 18, seller["name"], left_width, 22, bold=True, color=BRAND,
                          leading=25)
        left = self.lines(LEFT, left - 15, f"{seller['street']}, {seller['postal_city']}", left_width,
                          color=MUTED)
        self.text(RIGHT, self.y - 19, title, 24, bold=True, align="right")
        right = self.lines(RIGHT, self.y - 19 - 15, f"Nr {m['number']}", right_width, color=MUTED,
                           align="right")
        if m["credit_reference"]:
            right = self.lines(RIGHT, right - 13, m["credit_reference"], right_width, bold=True,
                               align="right")
        self.y = min(left, right) - 10 * mm

    def parties(self) -> None:
        """The buyer (left, where a window envelope shows it) and the invoice's facts (right)."""
        m, buyer = self.model, self.model["buyer"]
        width = 86 * mm
        y = self.y - 7
        self.text(LEFT, y, "FAKTURERAS TILL", 7.5, color=MUTED)
        y = self.lines(LEFT, y - 14, buyer["name"], width, 11, bold=True, leading=13.5)
        for value in (buyer["street"], buyer["postal_city"]):
            y = self.lines(LEFT, y - 12.5, value, width)
        y -= 3
        key_width = 22 * mm
        for key, value in (("Org.nr", buyer["org_number"]), ("Er referens", buyer["reference"]),
                           ("E-post", buyer["email"])):
            self.text(LEFT, y - 12.5, key, color=MUTED)
            y = self.lines(LEFT + key_width, y - 12.5, value, width - key_width)
        left_bottom = y

        facts: list[tuple[str, str, bool]] = [("Fakturanummer", m["number"], True),
                                              ("Fakturadatum", m["issue_date"], False)]
        if m["asks_payment"]:
            facts += [("Förfallodatum", m["due_date"], True), ("Betalningsvillkor", m["terms"], False),
                      ("OCR-nummer", m["ocr"], True)]
        else:
            facts.append(("Krediterar faktura", m["credited_number"], True))
        facts += [("Vår referens", m["seller"]["reference"], False), ("Valuta", m["currency"], False)]
        x = LEFT + 94 * mm
        y = self.y + 7.5
        for key, value, bold in facts:
            self.text(x, y - 14.5, key, color=MUTED)
            value_width = RIGHT - x - 32 * mm
            y = self.lines(RIGHT, y - 14.5, value, value_width, bold=bold, align="right")
        self.y = min(left_bottom, y) - 10 * mm

    def table_head(self) -> None:
        y = self.y - 12
        self.text(LEFT + PAD, y, "BESKRIVNING", 7.5, color=MUTED)
        self.text(COL_PERIOD + PAD, y, "PERIOD", 7.5, color=MUTED)
        self.text(COL_AMOUNT - PAD, y, "MOMS", 7.5, color=MUTED, align="right")
        self.text(RIGHT - PAD, y, "BELOPP EXKL. MOMS", 7.5, color=MUTED, align="right")
        self.y = y - 6
        self.rule(LEFT, self.y, RIGHT, 0.8, INK)

    def table(self) -> None:
        self.need(60)
        self.table_head()
        width = COL_PERIOD - LEFT - 2 * PAD
        for line in self.model["lines"]:
            network = self.count(line["network"], width, bold=True)
            description = self.count(line["description"], width)
            height = 6 + (network + description) * 12.5 + 6
            if self.need(height):
                self.table_head()
            y = self.y - 6 - 9
            last = self.lines(LEFT + PAD, y, line["network"], width, bold=True, leading=12.5)
            self.text(COL_PERIOD + PAD, y, line["period"])
            self.text(COL_AMOUNT - PAD, y, line["vat"], align="right")
            self.text(RIGHT - PAD, y, line["amount"], align="right")
            last = self.lines(LEFT + PAD, last - 12.5, line["description"], width, color=MUTED, leading=12.5)
            self.y = last - 3.5 - 6
            self.rule(LEFT, self.y, RIGHT, 0.4)
        self.y -= 4 * mm

    def totals(self) -> None:
        m = self.model
        x = RIGHT - 105 * mm
        label_width = 105 * mm - 32 * mm
        rows = [("Belopp exkl. moms", m["net"])] + [(g["label"], g["amount"]) for g in m["vat_groups"]]
        if m["rounding"]:
            rows.append(("Öresavrundning", m["rounding"]))
        for label, amount in rows:
            count = self.count(label, label_width)
            self.need(count * 12.5 + 3 + 30)
            last = self.lines(x, self.y - 10, label, label_width, leading=12.5)
            self.text(RIGHT, last, amount, align="right")
            self.y = last - 4.5
        self.rule(x, self.y - 1, RIGHT, 0.8, INK)
        total_label = f"{m['total_label']} ({m['currency']})"
        self.text(x, self.y - 15, total_label, 12, bold=True)
        self.text(RIGHT, self.y - 15, m["total"], 12, bold=True, align="right")
        self.y -= 15 + 4 * mm

    def notes(self) -> None:
        for note in self.model["notes"]:
            for line in wrap(note, self.fonts.regular, 9, WIDTH):
                self.need(11.5)
                self.text(LEFT, self.y - 8, line, 9, color=MUTED)
                self.y -= 11.5
            self.y -= 3

    def payment(self) -> None:
        """The tinted box: how to pay (Bankgiro, OCR, due date, amount), or for a credit note its amount."""
        m = self.model
        inner = WIDTH - 24
        instruction = wrap(m["payment_instruction"], self.fonts.regular, 8.5, inner)
        height = 12 + 8 + 15 + 8 + len(instruction) * 11 + 8
        self.y -= 6 * mm
        self.need(height)
        top = self.y
        self.pages[-1].append(Box(LEFT, top - height, WIDTH, height, TINT))
        columns = [("Bankgiro", m["seller"]["bankgiro"], 34 * mm), ("OCR-nummer", m["ocr"], 44 * mm),
                   ("Förfallodatum", m["due_date"], 40 * mm)] if m["asks_payment"] else []
        columns.append((m["total_label"], f"{m['total']}\u00a0kr", 50 * mm))
        x = LEFT + 12
        for caption, value, width in columns:
            self.text(x, top - 12 - 6, caption.upper(), 7.5, color=MUTED)
            self.text(x, top - 12 - 8 - 13, value, 11.5, bold=True)
            x += width
        y = top - 12 - 8 - 15 - 8 - 8
        for line in instruction:
            self.text(LEFT + 12, y, line, 8.5, color=MUTED)
            y -= 11
        self.y = top - height

    def footer(self, ops: list[Op], page: int, pages: int) -> None:
        """The seller's details on every page, and the page number."""
        seller = self.model["seller"]
        ops.append(Rule(LEFT, FOOTER_TOP, RIGHT, FOOTER_TOP, 0.5, HAIRLINE))
        columns = [
            (38 * mm, "ADRESS", [seller["name"], seller["street"], seller["postal_city"]]),
            (44 * mm, "KONTAKT", [seller["email"], seller["phone"], seller["website"]]),
            (50 * mm, "ORGANISATION", [f"Org.nr {seller['org_number']}", f"Momsreg.nr {seller['vat_number']}",
                                       seller["f_tax"]]),
            (36 * mm, "BETALNING", [f"Bankgiro {seller['bankgiro']}"]),
        ]
        x = LEFT
        for width, caption, rows in columns:
            y = FOOTER_TOP - 10
            ops.append(Text(x, y, caption, self.fonts.regular, 7, MUTED))
            for row in rows:
                for line in wrap(row, self.fonts.regular, 8, width - 6) if row else []:
                    y -= 9.5
                    ops.append(Text(x, y, line, self.fonts.regular, 8, INK))
            x += width
        y = 10 * mm
        name = f"{self.model['title']} {self.model['number']}"
        ops.append(Text(LEFT, y, name, self.fonts.regular, 7.5, MUTED))
        ops.append(Text(RIGHT, y, f"Sida {page} av {pages}", self.fonts.regular, 7.5, MUTED, "right"))

    def build(self) -> list[list[Op]]:
        self.header()
        self.parties()
        self.table()
        self.totals()
        self.notes()
        self.payment()
        for number, ops in enumerate(self.pages, start=1):
            self.footer(ops, number, len(self.pages))
        return self.pages


def _draw(canvas: Canvas, ops: list[Op]) -> None:
    """One page: boxes, then rules, then all text in one text object (font and colour set on change)."""
    for op in ops:
        if isinstance(op, Box):
            canvas.setFillColor(op.color)
            canvas.roundRect(op.x, op.y, op.width, op.height, 4, stroke=0, fill=1)
    for op in ops:
        if isinstance(op, Rule):
            canvas.setStrokeColor(op.color)
            canvas.setLineWidth(op.width)
            canvas.line(op.x1, op.y1, op.x2, op.y2)
    text = canvas.beginText()
    font: tuple[str, float] | None = None
    fill: Color | None = None
    for op in ops:
        if not isinstance(op, Text):
            continue
        if op.color is not fill:
            text.setFillColor(op.color)
            fill = op.color
        if (op.font, op.size) != font:
            text.setFont(op.font, op.size)
            font = (op.font, op.size)
        x = op.x - pdfmetrics.stringWidth(op.text, op.font, op.size) if op.align == "right" else op.x
        text.setTextOrigin(x, op.y)
        text.textOut(op.text)
    canvas.drawText(text)


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
                _draw(canvas, ops)
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
