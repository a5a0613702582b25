"""SIE 4I, pure: vouchers (verifikationer) for an accounting program to import, rendered as bytes.

The file is PC8 (code page 437) with CR LF line ends, as the SIE 4 format
prescribes; a character CP437 lacks becomes ``?``. Every voucher balances
(its transactions add up to zero), or it cannot be built. User text goes
into quoted fields only, stripped of line breaks and with quotes escaped, so
a buyer's name cannot start a record of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.money import money

PROGRAM = "Reglab Nätverk"
PROGRAM_VERSION = "1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class UnbalancedVoucher(ValueError):
    pass


@dataclass(frozen=True)
class Transaction:
    account: str
    amount: Decimal  # debit positive, credit negative


@dataclass(frozen=True)
class Voucher:
    day: date
    text: str
    transactions: tuple[Transaction, ...]

    def __post_init__(self) -> None:
        balance = sum((t.amount for t in self.transactions), Decimal(0))
        if balance != 0:
            raise UnbalancedVoucher(f"voucher {self.text!r} does not balance: {balance}")


@dataclass(frozen=True)
class Accounts:
    """The chart's accounts (BAS defaults, configurable) and their names for #KONTO."""

    receivable: str = "1510"
    revenue: str = "3010"
    vat: Mapping[Decimal, str] | None = None
    bank: str = "1930"
    rounding: str = "3740"

    def vat_account(self, rate: Decimal) -> str:
        accounts = self.vat or DEFAULT_VAT_ACCOUNTS
        account = accounts.get(rate.normalize())
        if account is None:
            raise ValueError(f"no output VAT account for the rate {rate}")
        return account

    def names(self) -> dict[str, str]:
        names = {self.receivable: "Kundfordringar", self.revenue: "Nätverksavgifter",
                 self.bank: "Företagskonto", self.rounding: "Öres- och kronutjämning"}
        for rate, account in (self.vat or DEFAULT_VAT_ACCOUNTS).items():
            names[account] = f"Utgående moms {(rate * 100).normalize():f} %"
        return names


DEFAULT_VAT_ACCOUNTS: dict[Decimal, str] = {
    Decimal("0.25"): "2611", Decimal("0.12").normalize(): "2621", Decimal("0.06").normalize(): "2631",
}


def invoice_voucher(*, number: str, kind: str, issue_date: date, buyer: str, credited_number: str | None,
                    vat_groups: Iterable[tuple[Decimal, Decimal, Decimal]], total: Decimal,
                    accounts: Accounts, rounding: Decimal = Decimal(0)) -> Voucher:
    """Receivable (debit, what is payable) against revenue, output VAT and any öresavrundning
    (credit); a credit note's negative amounts make the same postings its exact reverse."""
    transactions = [Transaction(accounts.receivable, money(total + rounding))]
    net_total = Decimal(0)
    vat_by_account: dict[str, Decimal] = {}
    for rate, net, vat in vat_groups:
        net_total += net
        if vat:
            account = accounts.vat_account(rate)
            vat_by_account[account] = vat_by_account.get(account, Decimal(0)) + vat
    transactions.append(Transaction(accounts.revenue, -money(net_total)))
    transactions += [Transaction(account, -money(vat)) for account, vat in vat_by_account.items()]
    if rounding:
        # Öresavrundning: the receivable is the payable amount, the difference goes to its own account.
        transactions.append(Transaction(accounts.rounding, -money(rounding)))
    if kind == "credit_note":
        text = f"Kreditfaktura {number} {buyer}"
        if credited_number:
            text += f" (krediterar {credited_number})"
    else:
        text = f"Faktura {number} {buyer}"
    return Voucher(issue_date, text, tuple(transactions))


def payment_voucher(*, number: str, paid_on: date, amount: Decimal, payer: str,
                    accounts: Accounts) -> Voucher:
    """Bank (debit) against the receivable (credit)."""
    return Voucher(paid_on, f"Inbetalning faktura {number} {payer}".rstrip(),
                   (Transaction(accounts.bank, money(amount)),
                    Transaction(accounts.receivable, -money(amount))))


def quote(text: str) -> str:
    """A SIE string field: line breaks and control characters become spaces, ``\\`` and ``"`` escaped."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _amount(value: Decimal) -> str:
    return f"{money(value):.2f}"


def render_sie(*, company: str, org_number: str, generated_on: date, accounts: Accounts,
               vouchers: Sequence[Voucher]) -> bytes:
    """The whole SIE 4I file, CP437-encoded (unencodable characters replaced)."""
    lines = [
        "#FLAGGA 0",
        f"#PROGRAM {quote(PROGRAM)} {PROGRAM_VERSION}",
        "#FORMAT PC8",
        f"#GEN {generated_on:%Y%m%d}",
        "#SIETYP 4",
        f"#FNAMN {quote(company)}",
        f"#ORGNR {org_number.strip() or '-'}",
    ]
    used = sorted({t.account for v in vouchers for t in v.transactions})
    names = accounts.names()
    lines += [f"#KONTO {account} {quote(names.get(account, account))}" for account in used]
    for voucher in vouchers:
        # Series and number left empty: the importing program numbers the vouchers (SIE 4I).
        lines.append(f'#VER "" "" {voucher.day:%Y%m%d} {quote(voucher.text)}')
        lines.append("{")
        lines += [f"   #TRANS {t.account} {{}} {_amount(t.amount)}" for t in voucher.transactions]
        lines.append("}")
    return ("\r\n".join(lines) + "\r\n").encode("cp437", errors="replace")
