"""The invoice PDF: Swedish mandatory contents, extractable text and literal user input.

Its speed is measured by `make bench` (pdf_ms), not asserted here.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def drawing_state(pdf: bytes) -> set[tuple[str, tuple[Any, ...]]]:
    """Every font, size and colour the pages set: what markup in user text would change."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return {(operator.decode(), tuple(operands)) for page in reader.pages
            for operands, operator in pypdf.generic.ContentStream(page.get_contents(), reader).operations
            if operator in (b"Tf", b"rg", b"RG", b"w")}


@pytest.mark.parametrize("hostile", [
    "<script>#set text(red) *bold* $x^2$ @ref // no comment",
    "<b>x</b> <font size=40 color=red>big</font> #set text(red) &amp; &lt;i&gt; <br/> ]]>",
])
def test_a_buyer_name_with_markup_prints_literally_and_changes_nothing_else(hostile: str) -> None:
    pdf = render_invoice_pdf(sample_document(buyer_name=hostile, buyer_reference=hostile))
    text = text_of(pdf)
    assert text.count(hostile) == 2
    assert drawing_state(pdf) == drawing_state(render_invoice_pdf(sample_document())), \
        "no font, size or colour of its own"
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1


def test_control_and_format_characters_in_user_text_are_not_printed() -> None:
    # A line break, a right-to-left override and a zero-width space would reorder or hide text.
    text = text_of(render_invoice_pdf(sample_document(buyer_name="Kommun\nA\u202eB\u200bC\x01D")))
    assert "Kommun ABCD" in text


def test_rendering_is_deterministic_so_a_stored_invoice_can_be_rendered_again() -> None:
    assert render_invoice_pdf(sample_document()) == render_invoice_pdf(sample_document())


def test_the_pdf_is_titled_and_dated_by_the_invoice() -> None:
    reader = pypdf.PdfReader(io.BytesIO(render_invoice_pdf(sample_document())))
    assert reader.metadata is not None
    assert reader.metadata.title == "Faktura 2018-00042"
    assert reader.metadata.author == "Reglab"
    assert str(reader.metadata["/CreationDate"]).startswith("D:20180201000000")


def test_each_render_shows_its_own_invoice_even_in_quick_succession() -> None:
    # The renderer is shared by the process: no state of one render may leak into the next.
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


# --- Fonts: Helvetica when Windows-1252 holds every character, else embedded DejaVu Sans ---

def fonts_of(pdf: bytes) -> dict[str, bool]:
    """Each font the pages use, and whether the file embeds it."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            embedded = descriptor is not None and "/FontFile2" in descriptor.get_object()
            fonts[str(font["/BaseFont"]).lstrip("/").split("+")[-1]] = embedded
    return fonts


def test_a_western_european_invoice_uses_the_standard_fonts_and_embeds_none() -> None:
    pdf = render_invoice_pdf(sample_document(buyer_name="Société Générale – Müller & Ørsted “AB” €"))
    fonts = fonts_of(pdf)
    assert fonts.keys() <= {"Helvetica", "Helvetica-Bold", "Symbol"} and not any(fonts.values())
    assert "Société Générale – Müller & Ørsted “AB” €" in text_of(pdf)
    assert len(pdf) < 8000


@pytest.mark.parametrize("name", ["Obec Dolní Břežany", "Łódź kommun", "Sámediggi – Sámi ŋ ŧ đ"])
def test_a_name_outside_windows_1252_falls_back_to_embedded_dejavu_sans(name: str) -> None:
    pdf = render_invoice_pdf(sample_document(buyer_name=name, buyer_reference="Jiří Dvořák"))
    fonts = fonts_of(pdf)
    assert set(fonts) == {"DejaVuSans", "DejaVuSans-Bold"} and all(fonts.values())
    text = text_of(pdf)
    for expected in (name, "Jiří Dvořák", "Att betala (SEK) 10 000,00", "Storgatan 71"):
        assert expected in text
    assert render_invoice_pdf(sample_document(buyer_name=name, buyer_reference="Jiří Dvořák")) == pdf


def test_a_credit_note_in_the_fallback_font_still_prints_its_minus_signs() -> None:
    credit = sample_credit_note(sample_document(buyer_name="Obec Dolní Břežany"))
    text = text_of(render_invoice_pdf(credit))
    assert "Kreditbelopp (SEK) −10 000,00" in text and "Obec Dolní Břežany" in text


# --- Long text wraps and many lines flow onto more pages ---

def many_lines(count: int) -> InvoiceDocument:
    base = sample_document(lines=4)
    lines = tuple(base.lines[i % 4].model_copy(update={"membership_id": i + 1,
                                                       "network_name": f"Nätverk {i + 1}"})
                  for i in range(count))
    return base.model_copy(update={"lines": lines})


def test_forty_lines_flow_onto_a_second_page_with_page_numbers_and_the_footer_on_each() -> None:
    pdf = render_invoice_pdf(many_lines(40))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [" ".join(page.extract_text().replace("\u00a0", " ").split()) for page in reader.pages]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Sida {number} av {len(pages)}" in page
        assert "Org.nr 802426-0005" in page and "Bankgiro 5050-1055" in page, "the seller on every page"
        assert "Faktura 2018-00042" in page
    for page in pages[1:]:
        assert "BESKRIVNING PERIOD MOMS BELOPP EXKL. MOMS" in page, "the table head repeats"
    text = " ".join(pages)
    for i in range(40):
        assert f"Nätverk {i + 1} 2018-01-01–2018-12-31 25 % 4 000,00" in text
    assert "Att betala (SEK)" in pages[-1] and "OCR-NUMMER" in pages[-1]


def test_a_long_buyer_name_and_long_notes_wrap_onto_several_lines_and_every_word_is_printed() -> None:
    name = ("Kommunalförbundet för gemensam regional utveckling, samverkan och planering i Norra "
            "Västerbottens inland och fjällvärld")
    word = "Kommunalförbundsdirektionsordförandeersättarsekretariatsavdelningen" * 2
    document = sample_document(buyer_name=name, buyer_street=word, outside_scope=True)
    pdf = render_invoice_pdf(document)
    lines = extracted_lines(pdf)
    assert name not in lines and word not in lines, "both are wrapped"
    text = text_of(pdf)
    assert name in text
    assert word in text.replace(" ", "").replace("\n", ""), "a word longer than a line is cut, not lost"
    assert SAMPLE_VAT_NOTE in text
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
