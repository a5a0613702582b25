"""The invoice PDF: Swedish mandatory contents, extractable text and literal user input.

Its speed is measured by `make bench` (pdf_ms), not asserted here.
"""

from __future__ import annotations

import io

import pypdf
import pytest

from services.invoicing.pdf import render_invoice_pdf, sample_document


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    # Line breaks fall where the layout puts them; compare words, not lines.
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture(scope="module")
def sample_text() -> str:
    return text_of(render_invoice_pdf(sample_document()))


@pytest.mark.parametrize("expected", [
    "FAKTURA", "Fakturanummer", "2018-00042", "Fakturadatum", "2018-02-01", "Förfallodatum", "2018-03-03",
    "30 dagar netto", "OCR-nummer", "Er referens", "Åsa Öberg",
    "Region Västerbotten", "Storgatan 71", "901 86 Umeå", "232100-0222",
    "Reglab", "Org.nr 802426-0005", "Momsreg.nr SE802426000501", "Bankgiro", "5050-1055",
    "Innehar F-skattsedel", "ekonomi@reglab.example", "08-123 456 00",
    "Ung region", "RUS-nätverket", "Medlemsavgift 2018", "2018-01-01–2018-12-31",
    "Belopp exkl. moms", "8 000,00", "Moms 25 %", "2 000,00", "Att betala", "10 000,00",
])
def test_the_pdf_carries_what_a_swedish_invoice_must_say(sample_text: str, expected: str) -> None:
    assert expected in sample_text


def test_the_ocr_reference_is_printed(sample_text: str) -> None:
    assert sample_document().ocr in sample_text


def test_a_buyer_name_with_typst_markup_prints_literally() -> None:
    hostile = "<script>#set text(red) *bold* $x^2$ @ref // no comment"
    text = text_of(render_invoice_pdf(sample_document(buyer_name=hostile)))
    assert hostile in text


def test_rendering_is_deterministic_so_a_stored_invoice_can_be_rendered_again() -> None:
    assert render_invoice_pdf(sample_document()) == render_invoice_pdf(sample_document())


def test_each_render_shows_its_own_invoice_even_in_quick_succession() -> None:
    # The warm compiler reads each invoice's data from a file it rewrites: a stale read
    # would print one buyer's invoice with another's data.
    for i in range(20):
        name = f"Kommun nummer {i}"
        assert name in text_of(render_invoice_pdf(sample_document(buyer_name=name)))
