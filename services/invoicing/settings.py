"""Invoicing settings: its database, the fee policies, payment terms, rounding and the seller's details.

The seller block is configuration, not code: finance sets Reglab's real
organisationsnummer, Bankgiro and addresses through the environment. The
defaults are example values that pass the same checks as real ones; production
refuses them, so no real invoice names the example seller or Bankgiro.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from stdnum import luhn
from stdnum.se import orgnr, vat

from shared.digits import is_digits
from shared.settings import CommonSettings, is_example_address


class InvoicingSettings(CommonSettings):
    database_url: str = Field("sqlite:///var/invoicing.db", validation_alias="INVOICING_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="INVOICING_HOST")
    port: int = Field(8001, validation_alias="INVOICING_PORT")

    # Extra policy files (one TOML per year) on top of those shipped in shared/policies/.
    fee_policy_dir: Path | None = Field(None, validation_alias="FEE_POLICY_DIR")
    # Removed: the VAT rate comes from the year's fee policy only, the file registration's
    # receipt also reads, so receipt and invoice always agree. Set, it stops the start.
    removed_vat_rate: str | None = Field(None, validation_alias="INVOICE_VAT_RATE", exclude=True)
    # Round what is payable to whole kronor, stated as an "Öresavrundning" line.
    round_to_krona: bool = Field(False, validation_alias="INVOICE_ROUND_TO_KRONA")
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

    # Payments and the books (see README, "Finance").
    # How often the service looks for invoices that became overdue; each is published once a day.
    overdue_check_seconds: float = Field(3600.0, gt=0, validation_alias="OVERDUE_CHECK_SECONDS")
    # Accept BgMax files Bankgirot marks as test files (T); for trying the import, never in production.
    bgmax_allow_test_files: bool = Field(False, validation_alias="BGMAX_ALLOW_TEST_FILES")
    # BAS accounts for the SIE 4I vouchers.
    sie_account_receivable: str = Field("1510", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_RECEIVABLE")
    sie_account_revenue: str = Field("3010", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_REVENUE")
    sie_account_vat_25: str = Field("2611", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_VAT_25")
    sie_account_vat_12: str = Field("2621", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_VAT_12")
    sie_account_vat_6: str = Field("2631", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_VAT_6")
    sie_account_bank: str = Field("1930", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_BANK")
    sie_account_rounding: str = Field("3740", pattern=r"^\d{4}$", validation_alias="SIE_ACCOUNT_ROUNDING")

    @field_validator("removed_vat_rate")
    @classmethod
    def _no_vat_rate_override(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("INVOICE_VAT_RATE is no longer read: the VAT rate is the fee policy's "
                             "(vat_treatment and vat_rate in the year's policy file); remove the variable")
        return None

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
        if not (is_digits(digits) and 7 <= len(digits) <= 8 and luhn.is_valid(digits)):
            raise ValueError("SELLER_BANKGIRO is not a valid Bankgiro number")
        return value

    @model_validator(mode="after")
    def _vat_number_is_the_org_numbers(self) -> InvoicingSettings:
        """The Swedish VAT number is "SE" + the organisationsnummer + "01": derived, or checked if given."""
        derived = "SE" + orgnr.compact(self.seller_org_number) + "01"
        if not self.seller_vat_number:
            self.seller_vat_number = derived
            return self
        given = "SE" + vat.compact(self.seller_vat_number)
        if not vat.is_valid(given):
            raise ValueError(f"SELLER_VAT_NUMBER {self.seller_vat_number!r} is not a valid Swedish VAT "
                             "number (SE, ten digits of the organisationsnummer, 01)")
        if given != derived:
            raise ValueError(f"SELLER_VAT_NUMBER {self.seller_vat_number!r} does not belong to "
                             f"SELLER_ORG_NUMBER {self.seller_org_number}: expected {derived}")
        self.seller_vat_number = given
        return self

    @model_validator(mode="after")
    def _production_bills_from_the_real_seller(self) -> InvoicingSettings:
        if self.environment != "production":
            return self
        fields = type(self).model_fields
        for name, variable in (("seller_org_number", "SELLER_ORG_NUMBER"),
                               ("seller_bankgiro", "SELLER_BANKGIRO")):
            if getattr(self, name) == fields[name].default:
                raise ValueError(f"{variable} is the example value; set Reglab's own in production")
        if is_example_address(self.seller_email):
            raise ValueError(f"SELLER_EMAIL is an example address ({self.seller_email}); "
                             "set the real one in production")
        if self.bgmax_allow_test_files:
            raise ValueError("BGMAX_ALLOW_TEST_FILES is for trying the import and cannot be used "
                             "in production")
        return self
