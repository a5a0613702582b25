"""The fee policy is data: loaded per year, validated with clear errors, applied by a pure rule."""

from decimal import Decimal

import pytest

from shared.policy import PolicyError, fee_for, load_policies, parse_policy

POLICY_2019 = """
year = 2019
fee = "4500.00"
vat_treatment = "outside_scope"
vat_note = "Avgiften ligger utanför momslagens tillämpningsområde."
[[exemptions]]
network = "analytiker"
reason = "Samarrangemang"
"""


def test_the_2018_policy_charges_4000_kronor_and_exempts_four_networks() -> None:
    policy = load_policies()[2018]
    assert policy.fee == Decimal("4000.00")
    assert policy.effective_vat_rate == Decimal("0.25")
    exempt = {code for code in ("kompetensforsorjning", "analytiker", "utvardering",
                                "smart-specialisering", "ung-region", "rus") if fee_for(policy, code).exempt}
    assert exempt == {"kompetensforsorjning", "analytiker", "utvardering", "smart-specialisering"}
    assert fee_for(policy, "rus").amount == Decimal("4000.00")
    assert fee_for(policy, "smart-specialisering").exemption_reason == "Marginell verksamhet"


def test_a_new_year_is_added_as_a_file_without_code(tmp_path) -> None:
    (tmp_path / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    policies = load_policies(tmp_path)
    assert sorted(policies) == [2018, 2019]
    assert policies[2019].effective_vat_rate == Decimal(0)
    assert fee_for(policies[2019], "ung-region").amount == Decimal("4500.00")
    assert fee_for(policies[2019], "utvardering").amount == Decimal("4500.00")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year = 2019\nfee = 4000.5\n", "not a float"),
        ("year = 2019\nfee = \"-10.00\"\n", "fee must be a positive amount"),
        ("year = 2019\nfee = \"4000.001\"\n", "whole öre"),
        ("year = 2019\nfee = \"4000.00\"\nvat_treatment = \"outside_scope\"\n", "vat_note"),
        ("year = 2019\nfee = \"4000.00\"\nvat_rate = \"25\"\n", "vat_rate is a fraction"),
        ("year = 2019\nfee = \"4000.00\"\n[[exemptions]]\nnetwork = \"rus\"\nreason = \" \"\n", "reason"),
        ("year = 2019\nfee = \"4000.00\"\ncolour = \"red\"\n", "colour"),
        ("year = \n", "not valid TOML"),
    ],
)
def test_an_invalid_policy_file_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "2019.toml")
    assert "2019.toml" in str(error.value)
    assert message in str(error.value)
