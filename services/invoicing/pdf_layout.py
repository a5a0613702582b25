"""The invoice laid out on A4 as pages of drawing operations, then drawn on a ReportLab canvas.

Strings are placed as they are (one text object per page, wrapped at spaces by
:func:`wrap`); no Paragraph markup is used, so user text can never change the
document. Fonts: base-14 Helvetica when every string fits Windows-1252, else
the vendored DejaVu Sans (see :mod:`services.invoicing.pdf`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from services.invoicing.pdf_view import MINUS

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


@functools.lru_cache(maxsize=4096)
def text_width(text: str, font: str, size: float) -> float:
    """Width in points; cached, as most strings (labels, dates, amounts) recur from invoice to invoice."""
    return float(pdfmetrics.stringWidth(text, font, size))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``, broken at spaces only (a no-break space, as in
    ``10 000,00``, holds); a word longer than a line is cut where it must be."""
    if text_width(text, font, size) <= width:
        return [text]
    space = text_width(" ", font, size)
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for word in text.split(" "):
        if not word:
            continue
        word_width = text_width(word, font, size)
        if line and used + space + word_width <= width:
            line.append(word)
            used += space + word_width
            continue
        if line:
            lines.append(" ".join(line))
        while word_width > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], font, size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
            word_width = text_width(word, font, size)
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
        right_width = max(text_width(title, self.fonts.bold, 24), 72 * mm)
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


def draw_page(canvas: Canvas, ops: list[Op]) -> None:
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
        x = op.x - text_width(op.text, op.font, op.size) if op.align == "right" else op.x
        text.setTextOrigin(x, op.y)
        text.textOut(op.text)
    canvas.drawText(text)
