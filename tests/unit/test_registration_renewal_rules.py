"""The yearly run's pure rules: which years may be renewed, which memberships an organisation renews."""

from __future__ import annotations

from services.registration.renewal_rules import Candidate, progress_percent, renewal_problem, to_renew


def test_only_the_next_year_with_a_fee_policy_can_be_renewed_into() -> None:
    assert renewal_problem(2018, 2019, {2018, 2019}) is None
    assert renewal_problem(2018, 2019, {2018}) == (
        "Det finns ingen avgiftspolicy för 2019. Lägg till 2019.toml (i FEE_POLICY_DIR) "
        "innan medlemskapen förnyas.")
    assert renewal_problem(2018, 2020, {2018, 2019, 2020}) == (
        "Förnyelsen går från ett år till nästa: från 2018 förnyas till 2019.")
    assert renewal_problem(2019, 2018, {2018, 2019}) is not None


def test_cancelled_opted_out_and_already_renewed_memberships_are_not_renewed() -> None:
    candidates = [
        Candidate(1, network_id=10, status="active", opted_out=False),
        Candidate(2, network_id=11, status="cancelled", opted_out=False),
        Candidate(3, network_id=12, status="active", opted_out=True),
        Candidate(4, network_id=13, status="active", opted_out=False),  # already in the new year
        Candidate(5, network_id=14, status="active", opted_out=False),
    ]
    assert [c.membership_id for c in to_renew(candidates, networks_next_year={13})] == [1, 5]
    assert to_renew(candidates, networks_next_year={10, 13, 14}) == [], "a second run renews nothing"


def test_progress_is_whole_percent_and_an_empty_run_is_complete() -> None:
    assert progress_percent(0, 3) == 0
    assert progress_percent(1, 3) == 33
    assert progress_percent(3, 3) == 100
    assert progress_percent(0, 0) == 100
    assert progress_percent(5, 4) == 100
