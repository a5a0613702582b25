"""Fee decisions: invoicing applies its own policy per year, not the fee fields in the event."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.invoicing.domain import Outcome, decide_fees
from shared.events import MembershipInfo
from shared.policy import FeePolicy, load_policies, parse_policy

POLICY_2019 = """
year = 2019
fee = "4500.00"
vat_treatment = "standard"
vat_rate = "0.25"

[[exemptions]]
network = "ung-region"
reason = "Pilotår"
"""

EXEMPT_2018 = {
    "kompetensforsorjning": "Samarrangemang",
    "analytiker": "Samarrangemang",
    "utvardering": "Samarrangemang",
    "smart-specialisering": "Marginell verksamhet",
}


def membership(membership_id: int, code: str, year: int = 2018, *, created: bool = True,
               fee_exempt: bool = False) -> MembershipInfo:
    return MembershipInfo(membership_id=membership_id, network_code=code, network_name=code.title(),
                          year=year, created=created, fee_exempt=fee_exempt)


@pytest.fixture
def policies() -> dict[int, FeePolicy]:
    loaded = load_policies()
    loaded[2019] = parse_policy(POLICY_2019, "2019.toml")
    return loaded


@pytest.mark.parametrize("code", ["ung-region", "rus", "fysisk-planering", "integration"])
def test_an_ordinary_2018_network_costs_4000_kronor_excluding_vat(policies, code) -> None:
    [decision] = decide_fees(policies, [membership(1, code)])
    assert decision.outcome is Outcome.INVOICED
    assert decision.amount == Decimal("4000.00")
    assert decision.vat_rate == Decimal("0.25")


@pytest.mark.parametrize(("code", "reason_starts"), EXEMPT_2018.items())
def test_the_four_2018_exemptions_are_free_with_their_reason(policies, code, reason_starts) -> None:
    [decision] = decide_fees(policies, [membership(1, code)])
    assert decision.outcome is Outcome.EXEMPT
    assert decision.amount is None
    assert decision.reason.startswith(reason_starts)


def test_another_year_has_its_own_amount_and_exemptions(policies) -> None:
    decisions = decide_fees(policies, [membership(1, "ung-region", 2019), membership(2, "analytiker", 2019)])
    assert [d.outcome for d in decisions] == [Outcome.EXEMPT, Outcome.INVOICED]
    assert decisions[0].reason == "Pilotår"
    assert decisions[1].amount == Decimal("4500.00")


def test_the_events_own_fee_fields_are_ignored(policies) -> None:
    # Registration may be wrong or on another policy version: invoicing decides from its own.
    [decision] = decide_fees(policies, [membership(1, "rus", fee_exempt=True)])
    assert decision.outcome is Outcome.INVOICED


def test_memberships_already_decided_are_skipped_and_duplicates_decided_once(policies) -> None:
    decisions = decide_fees(policies, [membership(1, "rus"), membership(2, "ung-region"),
                                       membership(2, "ung-region")], already_decided={1})
    assert [d.membership.membership_id for d in decisions] == [2]


def test_a_year_without_a_policy_bills_nothing_and_says_why(policies) -> None:
    [decision] = decide_fees(policies, [membership(1, "rus", 2031)])
    assert decision.outcome is Outcome.NO_POLICY
    assert decision.amount is None
    assert "2031" in decision.reason


def test_the_vat_rate_is_the_policys_and_an_outside_scope_year_charges_none(policies) -> None:
    [standard] = decide_fees(policies, [membership(1, "rus", 2018)])
    assert (standard.vat_rate, standard.vat_note) == (Decimal("0.25"), "")
    outside = parse_policy('year = 2020\nfee = "4000.00"\nvat_treatment = "outside_scope"\n'
                           'vat_note = "Utanför momsens tillämpningsområde."\n')
    [decision] = decide_fees({2020: outside}, [membership(1, "rus", 2020)])
    assert decision.vat_rate == Decimal(0)
    assert decision.vat_note == "Utanför momsens tillämpningsområde."
