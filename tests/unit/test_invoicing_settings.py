"""Invoicing settings: seller details are checked when the service starts, not on the first invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.invoicing.settings import InvoicingSettings


def test_the_vat_number_is_derived_from_the_organisationsnummer() -> None:
    settings = InvoicingSettings(environment="test", seller_org_number="8024260005")
    assert settings.seller_org_number == "802426-0005"
    assert settings.seller_vat_number == "SE802426000501"


def test_defaults_are_thirty_days_and_the_policys_vat_rate() -> None:
    settings = InvoicingSettings(environment="test")
    assert settings.payment_terms_days == 30
    assert settings.vat_rate_override is None


def test_the_vat_rate_can_be_set_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOICE_VAT_RATE", "0.06")
    assert InvoicingSettings(environment="test").vat_rate_override == Decimal("0.06")


@pytest.mark.parametrize("field", [{"seller_org_number": "802426-0006"}, {"seller_bankgiro": "5050-1056"},
                                   {"vat_rate_override": Decimal("25")}])
def test_invalid_seller_details_or_rates_are_refused(field: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        InvoicingSettings(environment="test", **field)  # type: ignore[arg-type]
