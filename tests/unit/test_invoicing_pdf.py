"""The invoice PDF: Swedish mandatory contents, extractable text and literal user input.

Its speed is measured by `make bench` (pdf_ms), not asserted here.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from services.invoicing.document import InvoiceDocument
from services.invoicing.pdf import SAMPLE_VAT_NOTE, render_invoice_pdf, sample_credit_note, sample_document


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


GOLDEN = Path(__file__).parents[1] / "golden"


def extracted_lines(pdf: bytes) -> list[str]:
    """pypdf's text, line by line, trailing spaces dropped (editors drop them from the golden file too)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return [line.rstrip() for line in text.strip().splitlines()]


@pytest.mark.parametrize(("document", "golden"), [
    (sample_document, "invoice-2018-00042.txt"),
    (sample_credit_note, "credit-note-2018-00057.txt"),
])
def test_the_text_of_a_fixed_document_matches_its_golden_file(
        document: Callable[[], InvoiceDocument], golden: str) -> None:
    expected = (GOLDEN / golden).read_text(encoding="utf-8").strip().splitlines()
    assert extracted_lines(render_invoice_pdf(document())) == expected


def test_a_credit_note_reads_kreditfaktura_names_the_invoice_and_shows_negative_amounts() -> None:
    text = text_of(render_invoice_pdf(sample_credit_note()))
    assert "KREDITFAKTURA" in text
    assert "Avser faktura 2018-00042 (2018-02-01)" in text
    for amount in ("−4 000,00", "−8 000,00", "−2 000,00", "−10 000,00"):
        assert amount in text
    assert "Betala till bankgiro" not in text, "a credit note asks for no payment"
    assert "Kreditbelopp (SEK) −10 000,00" in text
    assert "Krediterar faktura 2018-00042" in text


def test_an_outside_scope_invoice_prints_the_legal_text_and_no_vat_rate() -> None:
    text = text_of(render_invoice_pdf(sample_document(outside_scope=True)))
    assert SAMPLE_VAT_NOTE in text
    assert "Belopp utan moms (utanför momsens tillämpningsområde) 8 000,00" in text
    assert "Moms 0,00" in text
    assert "25 %" not in text
    assert "Att betala (SEK) 8 000,00" in text


def test_oresavrundning_is_printed_as_its_own_line_and_the_payable_is_whole_kronor() -> None:
    text = text_of(render_invoice_pdf(sample_document(round_to_krona=True, fee=Decimal("1234.55"))))
    # 2 469,10 net + 617,28 VAT = 3 086,38, rounded down to 3 086,00
    assert "Moms 25 % 617,28" in text
    assert "Öresavrundning −0,38" in text
    assert "Att betala (SEK) 3 086,00" in text
    assert "Öresavrundning" not in text_of(render_invoice_pdf(sample_document()))


def test_the_taxable_amount_per_rate_and_every_seller_detail_are_printed(sample_text: str) -> None:
    seller = sample_document().seller
    assert "Underlag moms 25 % 8 000,00" in sample_text
    for detail in (seller.name, seller.street, f"{seller.postal_code} {seller.city}", seller.org_number,
                   seller.vat_number, seller.bankgiro, seller.email, seller.phone):
        assert detail in sample_text
