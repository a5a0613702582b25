"""Invoice amounts: Decimal throughout, VAT once per rate, rounded half up, net + VAT == total."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.document import Buyer, Seller
from services.invoicing.domain import (
    FeeDecision,
    Outcome,
    Totals,
    VatGroup,
    build_invoice,
    compute_totals,
    due_date,
    format_rate,
)
from shared.events import MembershipInfo

D = Decimal


def test_two_fees_at_25_percent_make_ten_thousand_kronor() -> None:
    totals = compute_totals([(D("4000.00"), D("0.25")), (D("4000.00"), D("0.25"))])
    assert (totals.net, totals.vat, totals.total) == (D("8000.00"), D("2000.00"), D("10000.00"))
    assert totals.net + totals.vat == totals.total


def test_vat_rounds_half_up_to_whole_ore() -> None:
    assert compute_totals([(D("0.02"), D("0.25"))]).vat == D("0.01")  # 0.005 → 0.01
    assert compute_totals([(D("0.06"), D("0.25"))]).vat == D("0.02")  # 0.015 → 0.02


def test_vat_is_computed_on_each_rates_total_not_per_line() -> None:
    # Per line: 3 × round(8.3325) = 24.99; on the total: round(24.9975) = 25.00.
    totals = compute_totals([(D("33.33"), D("0.25"))] * 3)
    assert totals.vat == D("25.00")
    assert totals.total == D("124.99")


def test_each_rate_is_its_own_group() -> None:
    totals = compute_totals([(D("4000.00"), D("0.25")), (D("1000.00"), D("0.06")), (D("500.00"), D(0))])
    assert [(g.rate, g.net, g.vat) for g in totals.groups] == [
        (D("0.25"), D("4000.00"), D("1000.00")), (D("0.06"), D("1000.00"), D("60.00")),
        (D(0), D("500.00"), D("0.00"))]
    assert totals.total == D("6560.00")


def test_outside_the_scope_of_vat_means_no_vat() -> None:
    totals = compute_totals([(D("4000.00"), D(0))])
    assert (totals.vat, totals.total) == (D("0.00"), D("4000.00"))


def test_totals_refuse_amounts_that_do_not_add_up() -> None:
    with pytest.raises(ValueError, match="!= total"):
        Totals(net=D("100.00"), vat=D("25.00"), total=D("125.01"),
               groups=(VatGroup(D("0.25"), D("100.00"), D("25.00")),))
    with pytest.raises(ValueError, match="groups"):
        Totals(net=D("100.00"), vat=D("25.00"), total=D("125.00"), groups=())


def test_rates_print_as_swedish_percentages() -> None:
    assert format_rate(D("0.25")) == "25\u00a0%"
    assert format_rate(D("0.1250")) == "12,5\u00a0%"
    assert format_rate(D("0")) == "0\u00a0%"


def test_payment_is_due_thirty_days_after_issue() -> None:
    assert due_date(date(2026, 1, 15), 30) == date(2026, 2, 14)


def test_an_invoice_document_snapshots_lines_totals_and_ocr() -> None:
    decisions = [
        FeeDecision(MembershipInfo(membership_id=i, network_code=code, network_name=name, year=2018,
                                   created=True, fee_exempt=False),
                    Outcome.INVOICED, amount=D("4000.00"), vat_rate=D("0.25"))
        for i, (code, name) in enumerate([("rus", "RUS-nätverket"), ("ung-region", "Ung region")], 1)
    ]
    seller = Seller(name="Reglab", org_number="802426-0005", vat_number="SE802426000501", street="Box 1",
                    postal_code="111 22", city="Stockholm", bankgiro="5050-1055", email="e@x.example",
                    phone="08-1")
    buyer = Buyer(organisation_id=1, name="Region Ö", org_number="232100-0016", street="Gatan 1",
                  postal_code="831 86", city="Östersund", invoice_email="f@x.example")
    document = build_invoice(number="2026-00007", issue_date=date(2026, 3, 1), payment_terms_days=30,
                             seller=seller, buyer=buyer, decisions=decisions)
    assert document.total == D("10000.00")
    assert document.due_date == date(2026, 3, 31)
    assert [line.full_description for line in document.lines] == [
        "Medlemsavgift 2018 – RUS-nätverket", "Medlemsavgift 2018 – Ung region"]
    assert document.lines[0].period_start == date(2018, 1, 1)
    assert document.lines[0].period_end == date(2018, 12, 31)
    assert document.ocr.startswith("202600007")
    with pytest.raises(ValueError, match="at least one line"):
        build_invoice(number="2026-00008", issue_date=date(2026, 3, 1), payment_terms_days=30,
                      seller=seller, buyer=buyer, decisions=[])
