"""The fee policy is data: loaded per year, validated with clear errors, applied by a pure rule."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from services.registration.catalogue import NETWORKS
from shared.policy import PolicyError, fee_for, load_policies, parse_policy
from shared.policy import main as policy_main

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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year = 2019\nfee = \"4000.00\"\nvat_rate = \"0.20\"\n", "not a Swedish VAT rate"),
        ("year = 2019\nfee = \"4000.00\"\nvat_rate = 0.25\n", "vat_rate: write the amount as a string"),
        ("year = 2019\nfee = \"4000.00\"\n[[exemptions]]\nnetwork = \"rus\"\n",
         "exemptions.0.reason: is missing: every exemption needs its reason"),
        ("fee = \"4000.00\"\n", "year: is missing"),
        ("year = 1899\nfee = \"4000.00\"\n", "year: Input should be greater than or equal to 2000"),
        ("year = 2019\nfee = \"0.00\"\n", "fee must be a positive amount"),
        ("year = 2019\nfee = \"4000.00\"\n[[exemptions]]\nnetwork = \"rus\"\nreason = \"a\"\n"
         "[[exemptions]]\nnetwork = \"rus\"\nreason = \"b\"\n", "exempted twice"),
        ("year = 2019\nfee = \"-4000.00\"\nvat_rate = \"0.20\"\n", "fee: fee must be a positive amount"),
    ],
)
def test_more_invalid_policies_are_refused_with_the_setting_named(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(text, "2019.toml")


def test_every_problem_in_a_file_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy('year = 2019\nfee = "-1.00"\nvat_treatment = "maybe"\ncolour = "red"\n', "2019.toml")
    message = str(error.value)
    for part in ("fee:", "vat_treatment:", "colour: is not a policy setting"):
        assert part in message


def test_an_exemption_for_a_network_the_catalogue_does_not_know_is_refused(tmp_path: Path) -> None:
    (tmp_path / "2019.toml").write_text(POLICY_2019.replace('"analytiker"', '"golf"'), encoding="utf-8")
    codes = {network.code for network in NETWORKS}
    with pytest.raises(PolicyError, match=r"2019\.toml: exemptions: unknown network code\(s\) golf"):
        load_policies(tmp_path, network_codes=codes)
    assert load_policies(tmp_path)[2019].exemptions[0].network == "golf", "without a catalogue: not checked"


def test_the_shipped_policies_name_only_networks_of_the_catalogue() -> None:
    codes = {network.code for network in NETWORKS}
    assert load_policies(network_codes=codes)[2018].fee == Decimal("4000.00")


def test_a_file_named_for_one_year_cannot_hold_another() -> None:
    with pytest.raises(PolicyError, match="year is 2020 but the file is named for 2019"):
        parse_policy('year = 2020\nfee = "4000.00"\n', "policies/2019.toml")


def test_an_outside_scope_policy_carries_the_legal_text_and_no_vat() -> None:
    policy = parse_policy(POLICY_2019, "2019.toml")
    assert policy.vat_treatment == "outside_scope"
    assert policy.effective_vat_rate == Decimal(0)
    assert policy.vat_note == "Avgiften ligger utanför momslagens tillämpningsområde."


def test_finance_can_check_a_new_file_from_the_command_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "2019.toml", tmp_path / "2020.toml"
    good.write_text(POLICY_2019, encoding="utf-8")
    bad.write_text('year = 2020\nfee = 4000.0\n', encoding="utf-8")
    assert policy_main([str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    assert policy_main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"FEL {bad}: fee: write the amount as a string" in out


def test_the_example_policy_in_the_readme_is_a_valid_policy() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```toml\n(.*?)```", readme, flags=re.DOTALL)
    policy = parse_policy(example, "2019.toml", {network.code for network in NETWORKS})
    assert (policy.year, policy.fee, policy.effective_vat_rate) == (2019, Decimal("4500.00"), Decimal(0))
