"""A strict reader of Bankgirot's BgMax file (Bankgiro Inbetalningar), pure: bytes in, payments out.

The file is ISO-8859-1, one 80-character record per line; the first two
characters are the transaction code (TK):

- TK01 start: layout name ``BGMAX``, version, a 20-digit timestamp, ``T``/``P`` (test/production)
- TK05 opening of a deposit: the receiver's bankgiro, currency
- TK20 payment, TK21 deduction: sender bankgiro, reference (25), amount in öre (18),
  reference code, channel, BGC serial number (12), image marker
- TK22/TK23 extra references, TK25 information, TK26-TK29 name, addresses, organisationsnummer
  of the payer (they belong to the payment or deduction before them)
- TK15 deposit: receiver's bank account, payment date, deposit serial, total (öre), number of payments
- TK70 end: how many payment, deduction, extra reference and deposit records the file holds

Anything out of place raises :class:`BgMaxError` naming the line, so a malformed
file is refused whole and nothing of it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.digits import is_digits

RECORD_LENGTH = 80
ORE = Decimal("0.01")


class BgMaxError(ValueError):
    """A file that is not a well-formed BgMax file; the message (Swedish) names the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"Rad {line}: {message}" if line else message)
        self.line = line


@dataclass
class BgPayment:
    """One payment (TK20) or deduction (TK21, a negative amount) with what followed it."""

    line: int
    kind: str  # "payment" or "deduction"
    sender_bankgiro: str
    reference: str
    amount: Decimal
    reference_code: str
    channel: str
    bgc_serial: str
    image: bool
    deduction_code: str = ""
    extra_references: list[tuple[str, Decimal]] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    payer_name: str = ""
    payer_address: str = ""
    payer_org_number: str = ""


@dataclass
class BgDeposit:
    """One deposit (TK05 … TK15) to the receiver's bank account, with its payments."""

    line: int
    receiver_bankgiro: str
    currency: str
    payments: list[BgPayment] = field(default_factory=list)
    bank_account: str = ""
    payment_date: date | None = None
    serial: str = ""
    total: Decimal = Decimal(0)


@dataclass
class BgMaxFile:
    version: str
    created_at: datetime
    test: bool
    deposits: list[BgDeposit]

    @property
    def payments(self) -> list[tuple[BgDeposit, BgPayment]]:
        return [(deposit, payment) for deposit in self.deposits for payment in deposit.payments]


def _digits(line: int, text: str, what: str) -> str:
    if not is_digits(text):
        raise BgMaxError(line, f"{what} ska vara siffror, men är ”{text.strip()}”.")
    return text


def _amount(line: int, text: str, what: str = "Beloppet") -> Decimal:
    """An 18-digit amount in öre, zero-padded: ``000000000000123450`` is 1 234,50 kr."""
    return (Decimal(int(_digits(line, text, what))) * ORE).quantize(ORE)


def _date(line: int, text: str) -> date:
    _digits(line, text, "Betalningsdagen")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as error:
        raise BgMaxError(line, f"Betalningsdagen {text} är inget datum.") from error


def _bankgiro(text: str) -> str:
    return text.lstrip("0")


def decode_lines(data: bytes) -> list[str]:
    """The records of a file: ISO-8859-1, CR LF or LF; a final empty line is allowed."""
    if not data.strip():
        raise BgMaxError(0, "Filen är tom.")
    text = data.decode("iso-8859-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse_bgmax(data: bytes, *, allow_test: bool = False) -> BgMaxFile:
    """Parse a whole file or raise :class:`BgMaxError`; a test file (``T``) is refused unless allowed."""
    lines = decode_lines(data)
    for number, record in enumerate(lines, start=1):
        if len(record) != RECORD_LENGTH:
            raise BgMaxError(number, f"Posten är {len(record)} tecken lång; varje post i BgMax är "
                                     f"{RECORD_LENGTH} tecken.")
    parser = _Parser(lines)
    parsed = parser.run()
    if parsed.test and not allow_test:
        raise BgMaxError(1, "Filen är märkt som testfil (T) från Bankgirot och läses inte in.")
    return parsed


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.deposits: list[BgDeposit] = []
        self.deposit: BgDeposit | None = None
        self.payment: BgPayment | None = None
        self.counts = {"20": 0, "21": 0, "22/23": 0, "15": 0}

    def run(self) -> BgMaxFile:
        first = self.lines[0]
        if first[:2] != "01":
            raise BgMaxError(1, "Filen börjar inte med en startpost (TK01); är det en BgMax-fil?")
        if first[2:22].rstrip() != "BGMAX":
            raise BgMaxError(1, f"Layoutnamnet är ”{first[2:22].strip()}”, inte BGMAX.")
        version = _digits(1, first[22:24], "Versionen")
        stamp = _digits(1, first[24:44], "Tidsstämpeln")
        try:
            created_at = datetime.strptime(stamp[:14], "%Y%m%d%H%M%S")
        except ValueError as error:
            raise BgMaxError(1, f"Tidsstämpeln {stamp} är ingen tidpunkt.") from error
        marker = first[44]
        if marker not in ("T", "P"):
            raise BgMaxError(1, f"Testmarkeringen ska vara T eller P, men är ”{marker}”.")
        end_seen = False
        for number, record in enumerate(self.lines[1:], start=2):
            if end_seen:
                raise BgMaxError(number, "Poster efter slutposten (TK70).")
            code = record[:2]
            handler = getattr(self, f"_tk{code}", None) if is_digits(code) else None
            if handler is None:
                raise BgMaxError(number, f"Okänd transaktionskod ”{code}”.")
            if code == "70":
                end_seen = True
            handler(number, record)
        if not end_seen:
            raise BgMaxError(len(self.lines), "Filen saknar slutpost (TK70); den kan vara avklippt.")
        return BgMaxFile(version=version, created_at=created_at, test=marker == "T", deposits=self.deposits)

    # --- records ---

    def _tk05(self, number: int, record: str) -> None:
        if self.deposit is not None:
            raise BgMaxError(number, "En ny öppningspost (TK05) innan förra insättningen avslutats (TK15).")
        currency = record[22:25]
        if currency != "SEK":
            raise BgMaxError(number, f"Valutan är ”{currency.strip()}”; bara SEK tas emot.")
        bankgiro = _digits(number, record[2:12], "Mottagarens bankgironummer")
        self.deposit = BgDeposit(line=number, receiver_bankgiro=_bankgiro(bankgiro), currency=currency)
        self.payment = None

    def _open_deposit(self, number: int, what: str) -> BgDeposit:
        if self.deposit is None:
            raise BgMaxError(number, f"{what} utanför en insättning (saknar öppningspost TK05).")
        return self.deposit

    def _payment_record(self, number: int, record: str, kind: str) -> None:
        deposit = self._open_deposit(number, "Betalningspost" if kind == "payment" else "Avdragspost")
        amount = _amount(number, record[37:55])
        image = record[69]
        if image not in ("0", "1"):
            raise BgMaxError(number, f"Bildmarkeringen ska vara 0 eller 1, men är ”{image}”.")
        reference_code = _digits(number, record[55], "Referenskoden")
        channel = _digits(number, record[56], "Betalningskanalkoden")
        payment = BgPayment(
            line=number, kind=kind,
            sender_bankgiro=_bankgiro(_digits(number, record[2:12], "Avsändarens bankgironummer")),
            reference=record[12:37].strip(), amount=amount if kind == "payment" else -amount,
            reference_code=reference_code, channel=channel,
            bgc_serial=_digits(number, record[57:69], "BGC-löpnumret"), image=image == "1",
            deduction_code=record[70].strip() if kind == "deduction" else "",
        )
        deposit.payments.append(payment)
        self.payment = payment

    def _tk20(self, number: int, record: str) -> None:
        self._payment_record(number, record, "payment")
        self.counts["20"] += 1

    def _tk21(self, number: int, record: str) -> None:
        self._payment_record(number, record, "deduction")
        self.counts["21"] += 1

    def _current_payment(self, number: int, what: str) -> BgPayment:
        self._open_deposit(number, what)
        if self.payment is None:
            raise BgMaxError(number, f"{what} utan en betalningspost (TK20/TK21) före.")
        return self.payment

    def _extra_reference(self, number: int, record: str, sign: int) -> None:
        payment = self._current_payment(number, "Extra referenspost")
        amount = _amount(number, record[37:55])
        payment.extra_references.append((record[12:37].strip(), amount * sign))
        self.counts["22/23"] += 1

    def _tk22(self, number: int, record: str) -> None:
        self._extra_reference(number, record, 1)

    def _tk23(self, number: int, record: str) -> None:
        self._extra_reference(number, record, -1)

    def _tk25(self, number: int, record: str) -> None:
        self._current_payment(number, "Informationspost").information.append(record[2:52].strip())

    def _tk26(self, number: int, record: str) -> None:
        payment = self._current_payment(number, "Namnpost")
        payment.payer_name = " ".join(part for part in (record[2:37].strip(), record[37:72].strip()) if part)

    def _tk27(self, number: int, record: str) -> None:
        payment = self._current_payment(number, "Adresspost")
        payment.payer_address = " ".join(part for part in (record[2:37].strip(), record[37:46].strip())
                                         if part)

    def _tk28(self, number: int, record: str) -> None:
        payment = self._current_payment(number, "Adresspost")
        city = " ".join(part for part in (record[2:37].strip(), record[37:72].strip()) if part)
        payment.payer_address = f"{payment.payer_address}, {city}" if payment.payer_address else city

    def _tk29(self, number: int, record: str) -> None:
        payment = self._current_payment(number, "Organisationsnummerpost")
        payment.payer_org_number = _digits(number, record[2:14], "Organisationsnumret").lstrip("0")

    def _tk15(self, number: int, record: str) -> None:
        deposit = self._open_deposit(number, "Insättningspost")
        deposit.bank_account = record[2:37].strip()
        deposit.payment_date = _date(number, record[37:45])
        deposit.serial = _digits(number, record[45:50], "Insättningslöpnumret")
        deposit.total = _amount(number, record[50:68], "Insättningsbeloppet")
        currency = record[68:71]
        if currency != deposit.currency:
            raise BgMaxError(number, f"Insättningens valuta ”{currency.strip()}” skiljer sig från "
                                     f"öppningspostens {deposit.currency}.")
        count = int(_digits(number, record[71:79], "Antal betalningar"))
        if count != len(deposit.payments):
            raise BgMaxError(number, f"Insättningen anger {count} betalningar, men {len(deposit.payments)} "
                                     "finns i filen.")
        paid = sum((payment.amount for payment in deposit.payments), Decimal(0))
        if paid != deposit.total:
            raise BgMaxError(number, f"Insättningsbeloppet {deposit.total} stämmer inte med betalningarnas "
                                     f"summa {paid}.")
        self.deposits.append(deposit)
        self.deposit = None
        self.payment = None
        self.counts["15"] += 1

    def _tk70(self, number: int, record: str) -> None:
        if self.deposit is not None:
            raise BgMaxError(number, "Slutposten kommer innan insättningen avslutats (TK15).")
        stated = {
            "20": int(_digits(number, record[2:10], "Antal betalningsposter")),
            "21": int(_digits(number, record[10:18], "Antal avdragsposter")),
            "22/23": int(_digits(number, record[18:26], "Antal extra referensposter")),
            "15": int(_digits(number, record[26:34], "Antal insättningsposter")),
        }
        names = {"20": "betalningsposter (TK20)", "21": "avdragsposter (TK21)",
                 "22/23": "extra referensposter (TK22/23)", "15": "insättningsposter (TK15)"}
        for key, count in stated.items():
            if count != self.counts[key]:
                raise BgMaxError(number, f"Slutposten anger {count} {names[key]}, men filen har "
                                         f"{self.counts[key]}.")
