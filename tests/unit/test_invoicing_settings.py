"""Invoicing settings: seller details are checked when the service starts, not on the first invoice."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.invoicing.settings import InvoicingSettings


def test_the_vat_number_is_derived_from_the_organisationsnummer() -> None:
    settings = InvoicingSettings(environment="test", seller_org_number="8024260005")
    assert settings.seller_org_number == "802426-0005"
    assert settings.seller_vat_number == "SE802426000501"


def test_defaults_are_thirty_days_and_no_rounding_to_kronor() -> None:
    settings = InvoicingSettings(environment="test")
    assert settings.payment_terms_days == 30
    assert settings.round_to_krona is False


def test_rounding_to_kronor_is_turned_on_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_ROUND_TO_KRONA", "true")
    assert InvoicingSettings(environment="test").round_to_krona is True


def test_the_removed_vat_rate_override_stops_the_start_with_a_message_saying_where_the_rate_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_VAT_RATE", "0.06")
    with pytest.raises(ValidationError, match=r"INVOICE_VAT_RATE is no longer read.*policy"):
        InvoicingSettings(environment="test")


def test_a_given_vat_number_is_checked_against_the_organisationsnummer() -> None:
    settings = InvoicingSettings(environment="test", seller_org_number="802426-0005",
                                 seller_vat_number="se 8024260005 01")
    assert settings.seller_vat_number == "SE802426000501"
    with pytest.raises(ValidationError, match="does not belong to SELLER_ORG_NUMBER"):
        InvoicingSettings(environment="test", seller_org_number="802426-0005",
                          seller_vat_number="SE556036079301")
    with pytest.raises(ValidationError, match="not a valid Swedish VAT number"):
        InvoicingSettings(environment="test", seller_vat_number="SE802426000502")


@pytest.mark.parametrize("field", [{"seller_org_number": "802426-0006"}, {"seller_bankgiro": "5050-1056"},
                                   {"seller_org_number": "80242600"}, {"seller_bankgiro": "12345"}])
def test_invalid_seller_details_or_rates_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        InvoicingSettings(environment="test", **field)  # type: ignore[arg-type]
