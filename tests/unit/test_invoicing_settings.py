"""Invoicing settings: seller details are checked when the service starts, not on the first invoice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.invoicing.settings import InvoicingSettings


def test_the_vat_number_is_derived_from_the_organisationsnummer() -> None:
    settings = InvoicingSettings(environment="development", seller_org_number="8024260005")
    assert settings.seller_org_number == "802426-0005"
    assert settings.seller_vat_number == "SE802426000501"


def test_defaults_are_thirty_days_and_no_rounding_to_kronor() -> None:
    settings = InvoicingSettings(environment="development")
    assert settings.payment_terms_days == 30
    assert settings.round_to_krona is False


def test_rounding_to_kronor_is_turned_on_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_ROUND_TO_KRONA", "true")
    assert InvoicingSettings(environment="development").round_to_krona is True


def test_the_removed_vat_rate_override_stops_the_start_with_a_message_saying_where_the_rate_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_VAT_RATE", "0.06")
    with pytest.raises(ValidationError, match=r"INVOICE_VAT_RATE is no longer read.*policy"):
        InvoicingSettings(environment="development")


def test_a_given_vat_number_is_checked_against_the_organisationsnummer() -> None:
    settings = InvoicingSettings(environment="development", seller_org_number="802426-0005",
                                 seller_vat_number="se 8024260005 01")
    assert settings.seller_vat_number == "SE802426000501"
    with pytest.raises(ValidationError, match="does not belong to SELLER_ORG_NUMBER"):
        InvoicingSettings(environment="development", seller_org_number="802426-0005",
                          seller_vat_number="SE556036079301")
    with pytest.raises(ValidationError, match="not a valid Swedish VAT number"):
        InvoicingSettings(environment="development", seller_vat_number="SE802426000502")


@pytest.mark.parametrize("field", [{"seller_org_number": "802426-0006"}, {"seller_bankgiro": "5050-1056"},
                                   {"seller_org_number": "80242600"}, {"seller_bankgiro": "12345"}])
def test_invalid_seller_details_or_rates_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        InvoicingSettings(environment="development", **field)  # type: ignore[arg-type]


REAL = {"environment": "production", "secret_key": "s" * 40, "api_token": "t" * 40,
        "admin_password": "p" * 20, "mail_from": "natverk@reglab.se", "finance_email": "ekonomi@reglab.se",
        "staff_email": "kansliet@reglab.se", "seller_org_number": "212000-0142",
        "seller_bankgiro": "1234-5674", "seller_email": "ekonomi@reglab.se"}


def test_production_bills_from_a_real_seller_and_starts_with_one() -> None:
    settings = InvoicingSettings(**REAL)  # type: ignore[arg-type]
    assert settings.seller_org_number == "212000-0142" and settings.seller_vat_number == "SE212000014201"


@pytest.mark.parametrize("field, variable", [
    ({"seller_org_number": "802426-0005"}, "SELLER_ORG_NUMBER is the example value"),
    ({"seller_bankgiro": "5050-1055"}, "SELLER_BANKGIRO is the example value"),
    ({"seller_email": "ekonomi@reglab.example"}, "SELLER_EMAIL is an example address"),
    ({"bgmax_allow_test_files": True}, "BGMAX_ALLOW_TEST_FILES .* cannot be used in production"),
])
def test_production_refuses_the_example_seller_and_bgmax_test_files(field: dict[str, object],
                                                                    variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        InvoicingSettings(**{**REAL, **field})  # type: ignore[arg-type]
    staging = InvoicingSettings(**{**REAL, **field, "environment": "test"})  # type: ignore[arg-type]
    assert staging.deployed, "a test installation may try the example seller and Bankgirot's test files"
