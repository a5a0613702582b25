"""What a sign-up costs, and the seed networks as the source document names them."""

from __future__ import annotations

from decimal import Decimal

from services.registration.catalogue import NETWORKS
from services.registration.domain import FeeLine, default_year, display_org_number, fee_summary, percent
from shared.policy import fee_for, load_policies


def line(code: str, *, created: bool = True, fee: str | None = "4000.00") -> FeeLine:
    return FeeLine(code, code, 2018, created, Decimal(fee) if fee else None, "" if fee else "Skäl")


def test_only_new_fee_liable_memberships_are_due() -> None:
    summary = fee_summary([line("rus"), line("ung-region", created=False), line("analytiker", fee=None)],
                          Decimal("0.25"))
    assert (summary.net, summary.vat, summary.total) == (Decimal("4000.00"), Decimal("1000.00"),
                                                         Decimal("5000.00"))


def test_nothing_due_outside_vat_or_when_all_exempt() -> None:
    assert fee_summary([line("rus")], Decimal(0)).total == Decimal("4000.00")
    assert fee_summary([line("analytiker", fee=None)], Decimal("0.25")).total == Decimal("0.00")


def test_helpers_format_for_people() -> None:
    assert display_org_number("5566778899") == "556677-8899"
    assert percent(Decimal("0.25")) == "25\u00a0%"
    assert percent(Decimal("0.125")) == "12,5\u00a0%"
    assert default_year({2018, 2019}) == 2019
    assert default_year(set()) is None


def test_the_seed_has_the_document_s_networks_with_their_exact_names() -> None:
    names = {n.code: (n.name, n.status) for n in NETWORKS}
    assert names == {
        "analytiker": ("Analytikernätverket", "active"),
        "kompetensforsorjning": ("Kompetensförsörjningsnätverket", "active"),
        "utvardering": ("Utvärderingsnätverket", "active"),
        "smart-specialisering": ("Smart specialisering", "active"),
        "ung-region": ("Ung region", "active"),
        "rus": ("RUS-nätverket", "active"),
        "fysisk-planering": ("Fysisk planering", "active"),
        "integration": ("Integrationsnätverket", "active"),
        "naringslivsutveckling": ("Näringslivsutveckling", "proposed"),
        "kommunikation": ("Kommunikation", "proposed"),
    }


def test_the_2018_policy_exempts_exactly_the_four_co_arranged_or_marginal_networks() -> None:
    policy = load_policies()[2018]
    exempt = {n.code for n in NETWORKS if fee_for(policy, n.code).exempt}
    assert exempt == {"analytiker", "kompetensforsorjning", "utvardering", "smart-specialisering"}
    assert fee_for(policy, "rus").amount == Decimal("4000.00")
