"""Build BgMax files for tests: records laid out as Bankgirot's technical manual describes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


def _pad(text: str) -> str:
    assert len(text) <= 80, text
    return text.ljust(80)


def _ore(amount: Decimal) -> str:
    return f"{int(amount * 100):018d}"


@dataclass
class Payment:
    reference: str
    amount: Decimal
    serial: str
    sender_bankgiro: str = "9912346"
    reference_code: str = "2"
    channel: str = "1"
    deduction: bool = False
    name: str = ""
    org_number: str = ""
    information: str = ""
    extra_references: list[str] = field(default_factory=list)

    def records(self) -> list[str]:
        code = "21" if self.deduction else "20"
        tail = "0" + ("1" if self.deduction else "")
        records = [_pad(f"{code}{self.sender_bankgiro:0>10}{self.reference:<25}{_ore(self.amount)}"
                        f"{self.reference_code}{self.channel}{self.serial:0>12}{tail}")]
        for reference in self.extra_references:
            records.append(_pad(f"22{self.sender_bankgiro:0>10}{reference:<25}{0:018d}3{self.channel}"
                                f"{self.serial:0>12}0"))
        if self.information:
            records.append(_pad(f"25{self.information:<50}"))
        if self.name:
            records.append(_pad(f"26{self.name:<35}"))
        if self.org_number:
            records.append(_pad(f"29{self.org_number:0>12}"))
        return records


@dataclass
class Deposit:
    payments: list[Payment]
    payment_date: date = date(2018, 3, 1)
    serial: str = "00001"
    receiver_bankgiro: str = "50501055"
    bank_account: str = "36560000012345"

    def total(self) -> Decimal:
        return sum((-p.amount if p.deduction else p.amount for p in self.payments), Decimal(0))

    def records(self) -> list[str]:
        records = [_pad(f"05{self.receiver_bankgiro:0>10}{'':10}SEK")]
        for payment in self.payments:
            records += payment.records()
        records.append(_pad(f"15{self.bank_account:<35}{self.payment_date:%Y%m%d}{self.serial}"
                            f"{_ore(self.total())}SEK{len(self.payments):08d}"))
        return records


@dataclass
class BgMaxBuilder:
    deposits: list[Deposit] = field(default_factory=list)
    timestamp: str = "20180301123456123456"
    marker: str = "P"

    def lines(self) -> list[str]:
        lines = [_pad(f"01{'BGMAX':<20}01{self.timestamp}{self.marker}")]
        for deposit in self.deposits:
            lines += deposit.records()
        payments = sum(1 for d in self.deposits for p in d.payments if not p.deduction)
        deductions = sum(1 for d in self.deposits for p in d.payments if p.deduction)
        extra = sum(len(p.extra_references) for d in self.deposits for p in d.payments)
        lines.append(_pad(f"70{payments:08d}{deductions:08d}{extra:08d}{len(self.deposits):08d}"))
        return lines

    def build(self) -> bytes:
        return ("\r\n".join(self.lines()) + "\r\n").encode("iso-8859-1")


def bgmax_file(*payments: Payment, payment_date: date = date(2018, 3, 1), serial: str = "00001",
               timestamp: str = "20180301123456123456") -> bytes:
    """One deposit holding ``payments``."""
    return BgMaxBuilder([Deposit(list(payments), payment_date=payment_date, serial=serial)],
                        timestamp=timestamp).build()
