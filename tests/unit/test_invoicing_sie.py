"""SIE 4I vouchers: every voucher balances, the file is CP437, user text cannot add records; a golden file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.invoicing.exports.sie import (
    Accounts,
    Transaction,
    UnbalancedVoucher,
    Voucher,
    invoice_voucher,
    payment_voucher,
    quote,
    render_sie,
)

GOLDEN = Path(__file__).parents[1] / "golden" / "sie_4i.se"
ACCOUNTS = Accounts()


def vouchers() -> list[Voucher]:
    return [
        invoice_voucher(number="2018-00001", kind="invoice", issue_date=date(2018, 2, 1),
                        buyer="Region Jämtland Härjedalen", credited_number=None,
                        vat_groups=[(Decimal("0.25"), Decimal("8000.00"), Decimal("2000.00"))],
                        total=Decimal("10000.00"), accounts=ACCOUNTS),
        invoice_voucher(number="2018-00002", kind="invoice", issue_date=date(2018, 2, 2),
                        buyer='Kommunen "Östra" –\n#VER "" "" 20180101 "falsk"', credited_number=None,
                        vat_groups=[(Decimal("0"), Decimal("4000.00"), Decimal("0.00"))],
                        total=Decimal("4000.00"), accounts=ACCOUNTS),
        invoice_voucher(number="2018-00003", kind="credit_note", issue_date=date(2018, 2, 15),
                        buyer="Region Jämtland Härjedalen", credited_number="2018-00001",
                        vat_groups=[(Decimal("0.25"), Decimal("-4000.00"), Decimal("-1000.00"))],
                        total=Decimal("-5000.00"), accounts=ACCOUNTS),
        payment_voucher(number="2018-00001", paid_on=date(2018, 3, 1), amount=Decimal("5000.00"),
                        payer="Region Jämtland Härjedalen", accounts=ACCOUNTS),
    ]


def render() -> bytes:
    return render_sie(company="Reglab", org_number="802426-0005", generated_on=date(2018, 3, 31),
                      accounts=ACCOUNTS, vouchers=vouchers())


def test_an_invoice_posts_receivable_against_revenue_and_output_vat() -> None:
    invoice = vouchers()[0]
    assert invoice.transactions == (Transaction("1510", Decimal("10000.00")),
                                    Transaction("3010", Decimal("-8000.00")),
                                    Transaction("2611", Decimal("-2000.00")))


def test_a_credit_note_posts_the_exact_reverse_and_a_payment_bank_against_receivable() -> None:
    credit, payment = vouchers()[2], vouchers()[3]
    assert credit.transactions == (Transaction("1510", Decimal("-5000.00")),
                                   Transaction("3010", Decimal("4000.00")),
                                   Transaction("2611", Decimal("1000.00")))
    assert "krediterar 2018-00001" in credit.text
    assert payment.transactions == (Transaction("1930", Decimal("5000.00")),
                                    Transaction("1510", Decimal("-5000.00")))


def test_every_voucher_balances_to_the_ore() -> None:
    for voucher in vouchers():
        assert sum((t.amount for t in voucher.transactions), Decimal(0)) == Decimal("0.00")


def test_a_voucher_that_does_not_balance_cannot_be_built() -> None:
    with pytest.raises(UnbalancedVoucher):
        Voucher(date(2018, 1, 1), "fel", (Transaction("1510", Decimal("100.00")),
                                          Transaction("3010", Decimal("-99.99"))))
    with pytest.raises(UnbalancedVoucher):
        invoice_voucher(number="x", kind="invoice", issue_date=date(2018, 1, 1), buyer="",
                        credited_number=None,
                        vat_groups=[(Decimal("0.25"), Decimal("100.00"), Decimal("25.00"))],
                        total=Decimal("125.01"), accounts=ACCOUNTS)


def test_the_accounts_are_configurable() -> None:
    own = Accounts(receivable="1511", revenue="3890", bank="1940", vat={Decimal("0.25"): "2610"})
    voucher = invoice_voucher(number="1", kind="invoice", issue_date=date(2018, 1, 1), buyer="",
                              credited_number=None,
                              vat_groups=[(Decimal("0.25"), Decimal("4"), Decimal("1"))],
                              total=Decimal("5"), accounts=own)
    assert [t.account for t in voucher.transactions] == ["1511", "3890", "2610"]


def test_user_text_is_quoted_on_one_line_so_it_cannot_add_records() -> None:
    assert quote('a "b"\r\n#TRANS 1930 {} 1') == '"a \\"b\\" #TRANS 1930 {} 1"'
    assert quote("back\\slash") == '"back\\\\slash"'
    text = render().decode("cp437")
    lines = text.split("\r\n")
    assert sum(line.startswith("#VER") for line in lines) == 4, "the buyer's name added no voucher"
    assert not any(line.startswith("#VER \"\" \"\" 20180101") for line in lines)


def test_the_file_is_cp437_with_unencodable_characters_replaced() -> None:
    data = render()
    assert "Jämtland".encode("cp437") in data
    assert "Jämtland".encode() not in data
    assert b'Kommunen \\"\x99stra\\" ?' in data  # Ö is 0x99 in CP437; the en dash has no place there


def test_the_file_has_the_sie_4i_header_records() -> None:
    head = render().decode("cp437").split("\r\n")[:7]
    assert head == ["#FLAGGA 0", '#PROGRAM "Reglab Nätverk" 1', "#FORMAT PC8", "#GEN 20180331", "#SIETYP 4",
                    '#FNAMN "Reglab"', "#ORGNR 802426-0005"]


def test_the_file_matches_the_golden_file() -> None:
    assert render() == GOLDEN.read_bytes()


def test_with_oresavrundning_the_receivable_is_the_payable_amount_and_the_rounding_has_its_account() -> None:
    voucher = invoice_voucher(number="2019-00001", kind="invoice", issue_date=date(2019, 2, 1), buyer="",
                              credited_number=None,
                              vat_groups=[(Decimal("0"), Decimal("1234.55"), Decimal(0))],
                              total=Decimal("1234.55"), rounding=Decimal("0.45"), accounts=ACCOUNTS)
    assert voucher.transactions == (Transaction("1510", Decimal("1235.00")),
                                    Transaction("3010", Decimal("-1234.55")),
                                    Transaction("3740", Decimal("-0.45")))
