"""Hypothesis on every parser of outside input: it answers a clear refusal or a correct value, never crashes.

Covered here: organisationsnummer, the sign-up fields (form and JSON),
OCR references and the fee policy file. The BgMax parser and typed amounts
are in test_fuzz_payments.py.
"""

from __future__ import annotations

import string
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from services.invoicing.ocr import invoice_digits, ocr_reference, valid_ocr
from services.registration.domain import NetworkRef
from services.registration.validation import (
    BAD_CHECK_DIGIT,
    FIELD_KEYS,
    SignupInvalid,
    _org_number,
    flatten_json,
    validate_signup,
)
from shared.policy import PolicyError, parse_policy

NETWORKS = {"rus": NetworkRef("rus", "RUS-nätverket", "active"),
            "kommunikation": NetworkRef("kommunikation", "Kommunikation", "proposed")}
YEARS = {2018}
FAST = settings(max_examples=200, deadline=None)

nine_digits = st.text(alphabet=string.digits, min_size=9, max_size=9)


@FAST
@given(st.text(max_size=40))
def test_any_text_as_an_organisationsnummer_is_refused_with_a_message_or_cleaned_to_ten_valid_digits(
        text: str) -> None:
    cleaned, error = _org_number(text)
    if not error:
        assert len(cleaned) == 10 and cleaned.isdigit() and luhn.is_valid(cleaned)
    else:
        assert error.startswith("Ogiltigt organisationsnummer")


@FAST
@given(nine_digits, st.sampled_from(["", "-", " ", " - "]))
def test_every_organisationsnummer_with_its_check_digit_is_accepted_however_it_is_written(
        body: str, separator: str) -> None:
    number = body + luhn.calc_check_digit(body)
    if number[2] not in "2-9":  # the third digit of an organisationsnummer is at least 2
        return
    cleaned, error = _org_number(number[:6] + separator + number[6:])
    assert (cleaned, error) == (number, "")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert _org_number(wrong)[1] == BAD_CHECK_DIGIT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children,
                                                                       max_size=4),
    max_leaves=12)


@FAST
@given(st.dictionaries(st.sampled_from(FIELD_KEYS), json_values))
def test_any_values_in_the_signup_fields_give_messages_per_field_or_a_clean_request(
        data: dict[str, Any]) -> None:
    try:
        request = validate_signup(data, networks=NETWORKS, policy_years=YEARS)
    except SignupInvalid as invalid:
        assert invalid.errors and set(invalid.errors) <= set(FIELD_KEYS)
        assert all(isinstance(message, str) and message for message in invalid.errors.values())
        return
    assert request.year == 2018 and request.networks == ("rus",)


@FAST
@given(st.dictionaries(st.text(max_size=15), json_values, max_size=6))
def test_any_json_object_as_a_signup_body_is_flattened_and_validated_without_crashing(
        body: dict[str, Any]) -> None:
    with pytest.raises(SignupInvalid):
        validate_signup(flatten_json(body), networks=NETWORKS, policy_years=YEARS)


@FAST
@given(st.integers(min_value=1, max_value=99999), st.integers(min_value=2000, max_value=2999))
def test_every_ocr_reference_made_is_valid_and_any_changed_digit_is_caught(sequence: int, year: int) -> None:
    reference = ocr_reference(f"{year}-{sequence:05d}")
    assert valid_ocr(reference) and invoice_digits(reference) == f"{year}{sequence:05d}"
    for position in range(len(reference)):
        changed = reference[:position] + str((int(reference[position]) + 1) % 10) + reference[position + 1:]
        assert not valid_ocr(changed), "Luhn catches every single changed digit"
    # (A dropped or added digit is caught by the length digit or by Luhn in most cases, not all:
    # e.g. 20000005015 without its last digit is 2000000501, which passes both. Bankgirot's scheme.)


@FAST
@given(st.text(max_size=30))
def test_any_text_as_an_ocr_reference_is_answered_without_crashing(text: str) -> None:
    if valid_ocr(text):
        assert text.strip().isdigit() and ocr_reference(invoice_digits(text)) == text.strip()


@FAST
@given(st.text(max_size=400))
def test_any_text_as_a_policy_file_is_refused_with_a_policy_error_naming_the_file(text: str) -> None:
    try:
        parse_policy(text, "2031.toml")
    except PolicyError as error:
        assert str(error).startswith("2031.toml: ")


toml_scalars = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(alphabet=string.ascii_letters + string.digits + ".-+e ", max_size=12),
                         st.booleans())


@FAST
@given(year=st.integers(min_value=1900, max_value=2999), fee=toml_scalars, rate=toml_scalars,
       treatment=st.sampled_from(["standard", "outside_scope", "other"]))
def test_a_policy_with_any_values_is_parsed_exactly_or_refused_by_field(
        year: int, fee: object, rate: object, treatment: str) -> None:
    def toml(value: object) -> str:
        if isinstance(value, str):
            return '"' + value + '"'
        return str(value).lower() if isinstance(value, bool) else repr(value)

    text = f'year = {year}\nfee = {toml(fee)}\nvat_rate = {toml(rate)}\nvat_treatment = "{treatment}"\n'
    try:
        policy = parse_policy(text, "p.toml")
    except PolicyError as error:
        assert str(error).startswith("p.toml: ")
        return
    assert isinstance(fee, str | int) and not isinstance(fee, bool), "a float is never taken as money"
    assert policy.fee == Decimal(str(fee)).quantize(Decimal("0.01")) and policy.fee > 0
    assert Decimal(0) <= policy.vat_rate < 1 and treatment == "standard"
