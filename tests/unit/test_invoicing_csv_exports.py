"""The CSV exports, pure: one row per invoice with paid and owed, one per line, formulas defused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from services.invoicing.document import Buyer, Seller
from services.invoicing.domain import FeeDecision, Outcome, build_invoice
from services.invoicing.exports.books import INVOICE_HEADER, LINE_HEADER, invoice_row, line_rows
from services.invoicing.models import InvInvoice
from shared.csv_export import write_csv
from shared.events import MembershipInfo

NETWORKS = [("rus", "RUS-nätverket"), ("ung-region", "Ung region")]
SELLER = Seller(name="Reglab", org_number="802426-0005", vat_number="SE802426000501", street="Box 1",
                postal_code="111 22", city="Stockholm", bankgiro="5050-1055", email="e@x.example",
                phone="08-1")


def invoice(buyer_name: str = "Region Ö") -> tuple[InvInvoice, object]:
    decisions = [FeeDecision(MembershipInfo(membership_id=i, network_code=code, network_name=name, year=2018,
                                            created=True, fee_exempt=False),
                             Outcome.INVOICED, amount=Decimal("4000.00"), vat_rate=Decimal("0.25"))
                 for i, (code, name) in enumerate(NETWORKS, 1)]
    buyer = Buyer(organisation_id=1, name=buyer_name, org_number="232100-0016", street="Gatan 1",
                  postal_code="831 86", city="Östersund", invoice_email="f@x.example")
    document = build_invoice(number="2018-00007", issue_date=date(2018, 3, 1), payment_terms_days=30,
                             seller=SELLER, buyer=buyer, decisions=decisions)
    row = InvInvoice(id=7, number=document.number, series="2018", sequence=7, kind="invoice",
                     status="partly_paid",
                     source_event_id="e", correlation_id="c", organisation_id=1, buyer_name=buyer_name,
                     buyer_org_number="232100-0016", buyer_org_digits="2321000016", buyer_email="f@x.example",
                     issue_date=document.issue_date, due_date=document.due_date, net=document.net,
                     vat=document.vat, total=document.total, ocr=document.ocr,
                     document=document.model_dump_json(), issued_at=datetime(2018, 3, 1, tzinfo=UTC))
    return row, document


def test_an_invoice_row_carries_totals_paid_and_what_is_still_owed() -> None:
    row, document = invoice()
    values = invoice_row(row, document, Decimal("2500.00"), Decimal("-5000.00"))  # type: ignore[arg-type]
    named = dict(zip(INVOICE_HEADER, values, strict=True))
    assert named["Nummer"] == "2018-00007"
    assert (named["Netto"], named["Moms"], named["Totalt"]) == ("8000.00", "2000.00", "10000.00")
    assert (named["Betalt"], named["Kvar att betala"]) == ("2500.00", "2500.00")
    assert named["Förfallodatum"] == "2018-03-31"


def test_each_line_is_a_row_with_its_network_and_amount() -> None:
    row, document = invoice()
    rows = line_rows(row, document)  # type: ignore[arg-type]
    assert [dict(zip(LINE_HEADER, r, strict=True))["Nätverk"] for r in rows] == [n for _c, n in NETWORKS]
    assert rows[0][-1] == "4000.00"


def test_a_buyer_name_that_looks_like_a_formula_is_defused_in_the_file() -> None:
    row, document = invoice(buyer_name='=HYPERLINK("http://x","klick")')
    data = write_csv(INVOICE_HEADER, [invoice_row(row, document, Decimal(0), Decimal(0))])  # type: ignore[arg-type]
    text = data.decode("utf-8")
    assert text.startswith("\ufeffNummer;Typ;Status")
    assert ';"\'=HYPERLINK(' in text, "the formula starts with an apostrophe"
    assert ";10000.00;0.00;10000.00;" in text, "amounts stay plain numbers"
