"""Fee policies: one TOML file per activity year, validated when loaded.

The files ship in ``shared/policies/``; finance adds a year without a code
change by dropping a file in the directory named by ``FEE_POLICY_DIR``.
``fee_for`` is the pure rule: what a membership of a network costs in a year.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from shared.digits import is_digits
from shared.money import money

BUILTIN_POLICY_DIR = Path(__file__).parent / "policies"
# The Swedish VAT rates (ML 2023:200 ch. 9); Peppol's SE-R-006 allows only these for standard rating.
SWEDISH_VAT_RATES = (Decimal("0.25"), Decimal("0.12"), Decimal("0.06"))


MAX_FEE = Decimal(1_000_000_000)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message says which file and why."""


class Exemption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    network: str
    reason: str

    @field_validator("reason")
    @classmethod
    def _reason_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an exemption needs a reason")
        return value


class FeePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    year: int = Field(ge=2000, le=2100)
    currency: Literal["SEK"] = "SEK"
    fee: Decimal
    vat_treatment: Literal["standard", "outside_scope"] = "standard"
    vat_rate: Decimal = Decimal("0.25")
    vat_note: str = ""
    exemptions: tuple[Exemption, ...] = ()

    @field_validator("fee", "vat_rate", mode="before")
    @classmethod
    def _no_floats(cls, value: object) -> object:
        # TOML floats are binary fractions; amounts and rates are written as strings.
        if isinstance(value, float):
            raise ValueError(f"write the amount as a string, e.g. \"{value:.2f}\", not a float")
        return value

    @field_validator("fee")
    @classmethod
    def _fee_is_money(cls, value: Decimal) -> Decimal:
        # Bounded first: a huge number cannot be rounded to öre (decimal's InvalidOperation, found by
        # Hypothesis), and no fee comes near a billion kronor.
        if not Decimal(0) < value < MAX_FEE or value != money(value):
            raise ValueError("fee must be a positive amount in whole öre, e.g. \"4000.00\"")
        return money(value)

    @field_validator("vat_rate")
    @classmethod
    def _rate_is_fraction(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value < Decimal(1):
            raise ValueError("vat_rate is a fraction, e.g. \"0.25\" for 25 %")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeePolicy:
        if self.vat_treatment == "outside_scope" and not self.vat_note.strip():
            raise ValueError("vat_note must give the legal text when fees are outside the scope of VAT")
        if self.vat_treatment == "standard" and self.vat_rate not in SWEDISH_VAT_RATES:
            raise ValueError(f"vat_rate {self.vat_rate} is not a Swedish VAT rate (\"0.25\", \"0.12\" or "
                             "\"0.06\"); a fee without VAT is vat_treatment = \"outside_scope\"")
        codes = [e.network for e in self.exemptions]
        if len(codes) != len(set(codes)):
            raise ValueError("a network is exempted twice")
        return self

    @property
    def effective_vat_rate(self) -> Decimal:
        return self.vat_rate if self.vat_treatment == "standard" else Decimal(0)


class Fee(BaseModel):
    """What one membership costs: an amount, or an exemption with its reason."""

    model_config = ConfigDict(frozen=True)
    amount: Decimal | None
    exemption_reason: str = ""

    @property
    def exempt(self) -> bool:
        return self.amount is None


def fee_for(policy: FeePolicy, network_code: str) -> Fee:
    for exemption in policy.exemptions:
        if exemption.network == network_code:
            return Fee(amount=None, exemption_reason=exemption.reason)
    return Fee(amount=policy.fee)


_MESSAGES = {
    "missing": "is missing",
    "extra_forbidden": "is not a policy setting (a typo?)",
}


def _problem(error: ErrorDetails) -> str:
    location = ".".join(str(p) for p in error["loc"]) or "file"
    message = _MESSAGES.get(error["type"], error["msg"]).removeprefix("Value error, ")
    if location.endswith(".reason") and error["type"] == "missing":
        message += ": every exemption needs its reason, printed for finance and the member"
    return f"{location}: {message}"


def parse_policy(text: str, source: str = "<policy>",
                 network_codes: Collection[str] | None = None) -> FeePolicy:
    """One policy file's text, validated; ``network_codes``, when given, are the networks it may name.

    Every problem is reported at once, each with the file and the setting it
    concerns, so finance can fix a new year's file in one go.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: not valid TOML: {error}") from error
    try:
        policy = FeePolicy.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_problem(e) for e in error.errors())
        raise PolicyError(f"{source}: {problems}") from error
    if network_codes is not None:
        unknown = [e.network for e in policy.exemptions if e.network not in network_codes]
        if unknown:
            raise PolicyError(f"{source}: exemptions: unknown network code(s) {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(network_codes))})")
    stem = Path(source).stem
    if is_digits(stem) and len(stem) == 4 and int(stem) != policy.year:
        raise PolicyError(f"{source}: year is {policy.year} but the file is named for {stem}")
    return policy


def load_policies(*directories: Path | None,
                  network_codes: Collection[str] | None = None) -> dict[int, FeePolicy]:
    """Load every ``*.toml`` policy; a later directory overrides an earlier one's year.

    A broken file raises ``PolicyError`` naming the file, so a service refuses
    to start with a wrong policy rather than bill from it.
    """
    policies: dict[int, FeePolicy] = {}
    for directory in (BUILTIN_POLICY_DIR, *directories):
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            policy = parse_policy(path.read_text(encoding="utf-8"), str(path), network_codes)
            policies[policy.year] = policy
    return policies


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.policy FILE...``: check policy files before putting them in FEE_POLICY_DIR.

    Network codes are not checked here (``shared`` does not know the catalogue):
    registration checks them when it starts.
    """
    parser = argparse.ArgumentParser(description="Check fee policy files (one TOML file per year).")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        try:
            policy = parse_policy(path.read_text(encoding="utf-8"), str(path))
        except (PolicyError, OSError) as error:
            print(f"FEL {error}")
            failed = True
            continue
        vat = (f"moms {policy.vat_rate * 100:.0f} %" if policy.vat_treatment == "standard"
               else f"utanför momsens tillämpningsområde ({policy.vat_note})")
        print(f"OK  {path}: {policy.year}, avgift {policy.fee} kr, {vat}, "
              f"{len(policy.exemptions)} undantag")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
