"""Hypothesis on the payment parsers: BgMax files and typed amounts are refused clearly or read exactly."""

from __future__ import annotations

import string
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.invoicing.payments.bgmax import BgMaxError, parse_bgmax
from services.invoicing.payments.matching import MAX_AMOUNT, AmountError, parse_amount
from tests.support.bgmax import BgMaxBuilder, Deposit, Payment

FAST = settings(max_examples=200, deadline=None)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)
references = st.text(alphabet=string.digits + " ", min_size=1, max_size=25).map(str.strip).filter(bool)
payments = st.builds(Payment, reference=references, amount=amounts,
                     serial=st.text(alphabet=string.digits, min_size=12, max_size=12),
                     name=st.text(alphabet=string.ascii_letters + "åäöÅÄÖ ", max_size=35).map(str.rstrip))


def valid_file(items: list[Payment]) -> bytes:
    return BgMaxBuilder([Deposit(items)]).build()


@FAST
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_with_a_line_number_never_a_crash(data: bytes) -> None:
    try:
        parse_bgmax(data)
    except BgMaxError as error:
        assert str(error)


@FAST
@given(st.lists(payments, min_size=1, max_size=5))
def test_a_well_formed_file_is_read_exactly(items: list[Payment]) -> None:
    parsed = parse_bgmax(valid_file(items))
    read = [payment for _deposit, payment in parsed.payments]
    assert [(p.reference.strip(), p.amount, p.bgc_serial) for p in read] == [
        (p.reference, p.amount, p.serial) for p in items]
    assert [p.payer_name for p in read] == [p.name.strip() for p in items]


@FAST
@given(st.lists(payments, min_size=1, max_size=3), st.data())
def test_one_changed_character_is_read_or_refused_never_a_crash(items: list[Payment],
                                                                data: st.DataObject) -> None:
    original = bytearray(valid_file(items))
    position = data.draw(st.integers(0, len(original) - 1))
    original[position] = data.draw(st.integers(0, 255))
    try:
        parse_bgmax(bytes(original))
    except BgMaxError as error:
        assert str(error)


@FAST
@given(st.text(max_size=30))
def test_any_typed_amount_is_refused_with_a_message_or_read_as_a_positive_amount_in_ore(text: str) -> None:
    try:
        amount = parse_amount(text)
    except AmountError as error:
        assert str(error)
    else:
        assert amount > 0 and amount == amount.quantize(Decimal("0.01"))


@FAST
@given(st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2))
def test_an_amount_written_the_swedish_way_reads_back_exactly(amount: Decimal) -> None:
    whole, _, ore = f"{amount:.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    assert parse_amount(f"{grouped},{ore}") == amount
    assert parse_amount(f"{whole}.{ore}") == amount
