"""Credit-note rules, pure: which memberships get a credit note, the negated lines and their totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.invoicing.credit_rules import (
    BuyerCorrection,
    CancellationOutcome,
    CreditRefused,
    cancellation_outcome,
    correction_problems,
    credit_note_document,
    open_lines,
    reissued_document,
)
from services.invoicing.document import Buyer, InvoiceDocument
from services.invoicing.domain import FeeDecision, Outcome, build_invoice
from services.invoicing.handlers import seller_from
from services.invoicing.ocr import valid_ocr
from services.invoicing.settings import InvoicingSettings
from shared.events import MembershipInfo

SELLER = seller_from(InvoicingSettings(environment="development"))
BUYER = Buyer(organisation_id=7, name="Region Exempel", org_number="212000-0142", street="Storgatan 1",
              postal_code="111 22", city="Stockholm", invoice_email="faktura@region.example",
              reference="Anna Andersson")


def invoice(amounts: dict[str, tuple[str, str]], *, round_to_krona: bool = False) -> InvoiceDocument:
    """An issued invoice with one line per network: code → (amount, VAT rate)."""
    decisions = [
        FeeDecision(MembershipInfo(membership_id=index, network_code=code, network_name=code.title(),
                                   year=2018, created=True, fee_exempt=False),
                    Outcome.INVOICED, amount=Decimal(amount), vat_rate=Decimal(rate))
        for index, (code, (amount, rate)) in enumerate(amounts.items(), start=1)
    ]
    return build_invoice(number="2026-00001", issue_date=date(2026, 3, 2), payment_terms_days=30,
                         seller=SELLER, buyer=BUYER, decisions=decisions, round_to_krona=round_to_krona)


def test_only_a_membership_with_an_invoice_line_not_yet_credited_gets_a_credit_note() -> None:
    assert cancellation_outcome("invoiced", line_exists=True, line_open=True) is CancellationOutcome.CREDITED
    assert cancellation_outcome("invoiced", line_exists=True,
                                line_open=False) is CancellationOutcome.ALREADY_CREDITED
    assert cancellation_outcome("exempt", line_exists=False, line_open=False) is CancellationOutcome.EXEMPT
    assert cancellation_outcome("no_policy", line_exists=False,
                                line_open=False) is CancellationOutcome.NOT_INVOICED
    assert cancellation_outcome("cancelled", line_exists=False,
                                line_open=False) is CancellationOutcome.NOT_INVOICED
    assert cancellation_outcome(None, line_exists=False,
                                line_open=False) is CancellationOutcome.BEFORE_INVOICING


def test_a_credit_note_negates_only_the_cancelled_networks_line_and_refers_to_the_original() -> None:
    original = invoice({"rus": ("4000.00", "0.25"), "ung-region": ("4000.00", "0.25")})
    [rus, _ung] = original.lines

    credit = credit_note_document(number="2026-00002", issue_date=date(2026, 4, 1), seller=SELLER,
                                  original=original, lines=[rus])

    assert credit.kind == "credit_note"
    assert (credit.credited_number, credit.credited_issue_date) == ("2026-00001", date(2026, 3, 2))
    assert [(line.network_code, line.amount) for line in credit.lines] == [("rus", Decimal("-4000.00"))]
    assert (credit.net, credit.vat, credit.total) == (Decimal("-4000.00"), Decimal("-1000.00"),
                                                      Decimal("-5000.00"))
    assert credit.buyer == original.buyer
    assert credit.due_date == credit.issue_date, "nothing to pay on a credit note"
    assert valid_ocr(credit.ocr)


def test_a_full_credit_note_is_exactly_the_negation_of_the_original_even_where_vat_rounds() -> None:
    # 33.33 at 25 % is 8.3325 VAT: rounding half up away from zero keeps the credit symmetric.
    original = invoice({"rus": ("33.33", "0.25"), "ung-region": ("0.01", "0.25"),
                        "integration": ("10.05", "0.06")})

    credit = credit_note_document(number="2026-00002", issue_date=date(2026, 4, 1), seller=SELLER,
                                  original=original, lines=original.lines)

    assert (credit.net, credit.vat, credit.total) == (-original.net, -original.vat, -original.total)
    assert [(g.rate, g.net, g.vat) for g in credit.vat_groups] == [
        (g.rate, -g.net, -g.vat) for g in original.vat_groups]


def test_a_full_credit_of_an_invoice_with_oresavrundning_gives_back_exactly_what_was_payable() -> None:
    original = invoice({"rus": ("1000.50", "0.25")}, round_to_krona=True)  # 1250.625 → 1250.63, pays 1251
    assert (original.total, original.rounding, original.payable) == (
        Decimal("1250.63"), Decimal("0.37"), Decimal("1251.00"))

    credit = credit_note_document(number="2026-00002", issue_date=date(2026, 4, 1), seller=SELLER,
                                  original=original, lines=original.lines)

    assert (credit.total, credit.rounding, credit.payable) == (
        Decimal("-1250.63"), Decimal("-0.37"), Decimal("-1251.00"))


def test_a_credit_note_of_nothing_or_of_a_credit_note_is_refused() -> None:
    original = invoice({"rus": ("4000.00", "0.25")})
    with pytest.raises(CreditRefused, match="inga rader kvar"):
        credit_note_document(number="2026-00002", issue_date=date(2026, 4, 1), seller=SELLER,
                             original=original, lines=[])
    credit = credit_note_document(number="2026-00002", issue_date=date(2026, 4, 1), seller=SELLER,
                                  original=original, lines=original.lines)
    with pytest.raises(CreditRefused, match="kreditfaktura kan inte krediteras"):
        credit_note_document(number="2026-00003", issue_date=date(2026, 4, 1), seller=SELLER,
                             original=credit, lines=credit.lines)


def test_open_lines_leave_out_the_memberships_already_credited() -> None:
    original = invoice({"rus": ("4000.00", "0.25"), "ung-region": ("4000.00", "0.25")})
    assert [line.network_code for line in open_lines(original, {1})] == ["ung-region"]
    assert open_lines(original, {1, 2}) == []


def test_a_reissued_invoice_has_the_same_lines_new_dates_and_the_corrected_buyer() -> None:
    original = invoice({"rus": ("4000.00", "0.25"), "ung-region": ("4000.00", "0.25")})
    corrected = BuyerCorrection.of(BUYER)
    corrected = BuyerCorrection(corrected.name, "ekonomi@region.example", "Box 9", "831 27", "Östersund",
                                "REF-42")

    again = reissued_document(number="2026-00003", issue_date=date(2026, 4, 1), payment_terms_days=30,
                              seller=SELLER, original=original, lines=original.lines,
                              buyer=corrected.applied_to(BUYER))

    assert again.kind == "invoice" and again.credited_number is None
    assert again.lines == original.lines
    assert (again.net, again.vat, again.total) == (original.net, original.vat, original.total)
    assert (again.issue_date, again.due_date) == (date(2026, 4, 1), date(2026, 5, 1))
    assert (again.buyer.invoice_email, again.buyer.street, again.buyer.reference) == (
        "ekonomi@region.example", "Box 9", "REF-42")
    assert again.buyer.org_number == BUYER.org_number, "the organisation itself never changes"


def test_a_correction_must_change_something_and_be_a_usable_address() -> None:
    unchanged = BuyerCorrection.of(BUYER)
    assert correction_problems(unchanged, BUYER) == {
        "form": "Inget är ändrat: rätta adressen, e-posten eller referensen."}

    bad = BuyerCorrection(" ", "inte en adress", "Storgatan 1", "1122", "", "")
    problems = correction_problems(bad, BUYER)
    assert set(problems) == {"name", "invoice_email", "postal_code", "city"}
    assert problems["postal_code"] == "Postnumret ska vara fem siffror, t.ex. 111 22."

    fine = BuyerCorrection(BUYER.name, BUYER.invoice_email, BUYER.street, BUYER.postal_code, BUYER.city, "")
    assert correction_problems(fine, BUYER) == {}, "removing the reference is a correction"
