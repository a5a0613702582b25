"""Invoicing settings: its database, the fee policies, VAT, payment terms and the seller's details.

The seller block is configuration, not code: finance sets Reglab's real
organisationsnummer, Bankgiro and addresses through the environment. The
defaults are example values that pass the same checks as real ones.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from stdnum import luhn
from stdnum.se import orgnr

from shared.settings import CommonSettings


class InvoicingSettings(CommonSettings):
    database_url: str = Field("sqlite:///var/invoicing.db", validation_alias="INVOICING_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="INVOICING_HOST")
    port: int = Field(8001, validation_alias="INVOICING_PORT")

    # Extra policy files (one TOML per year) on top of those shipped in shared/policies/.
    fee_policy_dir: Path | None = Field(None, validation_alias="FEE_POLICY_DIR")
    # Replaces the policy's vat_rate when set (e.g. "0.25"); a year whose policy is
    # "outside_scope" stays without VAT, since that is a decision about the fee itself.
    vat_rate_override: Decimal | None = Field(None, validation_alias="INVOICE_VAT_RATE")
    payment_terms_days: int = Field(30, ge=0, le=365, validation_alias="INVOICE_PAYMENT_TERMS_DAYS")
    timezone: str = Field("Europe/Stockholm", validation_alias="INVOICE_TIMEZONE")

    seller_name: str = Field("Reglab", validation_alias="SELLER_NAME")
    seller_org_number: str = Field("802426-0005", validation_alias="SELLER_ORG_NUMBER")
    # Empty means "SE" + the organisationsnummer's ten digits + "01", the Swedish format.
    seller_vat_number: str = Field("", validation_alias="SELLER_VAT_NUMBER")
    seller_street: str = Field("Box 1234", validation_alias="SELLER_STREET")
    seller_postal_code: str = Field("111 22", validation_alias="SELLER_POSTAL_CODE")
    seller_city: str = Field("Stockholm", validation_alias="SELLER_CITY")
    seller_bankgiro: str = Field("5050-1055", validation_alias="SELLER_BANKGIRO")
    seller_email: str = Field("ekonomi@reglab.example", validation_alias="SELLER_EMAIL")
    seller_phone: str = Field("08-123 456 00", validation_alias="SELLER_PHONE")
    seller_website: str = Field("www.reglab.se", validation_alias="SELLER_WEBSITE")
    seller_reference: str = Field("Kansliet", validation_alias="SELLER_REFERENCE")
    seller_f_tax: bool = Field(True, validation_alias="SELLER_F_TAX")

    @field_validator("vat_rate_override")
    @classmethod
    def _rate_is_fraction(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not Decimal(0) <= value < Decimal(1):
            raise ValueError("INVOICE_VAT_RATE is a fraction, e.g. 0.25 for 25 %")
        return value

    @field_validator("seller_org_number")
    @classmethod
    def _valid_org_number(cls, value: str) -> str:
        if not orgnr.is_valid(value):
            raise ValueError("SELLER_ORG_NUMBER is not a valid organisationsnummer")
        return orgnr.format(value)

    @field_validator("seller_bankgiro")
    @classmethod
    def _valid_bankgiro(cls, value: str) -> str:
        digits = value.replace("-", "").replace(" ", "")
        if not (digits.isdigit() and 7 <= len(digits) <= 8 and luhn.is_valid(digits)):
            raise ValueError("SELLER_BANKGIRO is not a valid Bankgiro number")
        return value

    @model_validator(mode="after")
    def _default_vat_number(self) -> InvoicingSettings:
        if not self.seller_vat_number:
            self.seller_vat_number = "SE" + orgnr.compact(self.seller_org_number) + "01"
        return self
