"""The board's summary, pure: counts and amounts per network, payments spread over lines, chart geometry."""

from __future__ import annotations

from decimal import Decimal

from services.invoicing.summary import DecisionRow, LineRow, bar_chart, paid_share, summarise


def test_memberships_fees_payments_and_costs_add_up_per_network() -> None:
    summary = summarise(
        2018,
        [DecisionRow("rus", "RUS-nätverket", "invoiced"), DecisionRow("rus", "RUS-nätverket", "invoiced"),
         DecisionRow("analytiker", "Analytikernätverket", "exempt")],
        [LineRow("rus", "RUS-nätverket", Decimal("4000.00"), Decimal(1)),
         LineRow("rus", "RUS-nätverket", Decimal("4000.00"), Decimal("0.5")),
         # an invoice credited in full (nothing due, so nothing counts as paid) and its credit note
         LineRow("rus", "RUS-nätverket", Decimal("4000.00"), Decimal(0)),
         LineRow("rus", "RUS-nätverket", Decimal("-4000.00"), Decimal(0))],
        [("rus", "RUS-nätverket", Decimal("45000.00")), ("alla", "Alla nätverk (ej fördelat)", Decimal("1"))],
    )
    by_code = {row.network_code: row for row in summary.networks}
    rus = by_code["rus"]
    assert (rus.memberships, rus.fee_liable, rus.exempt) == (2, 2, 0)
    assert (rus.invoiced, rus.paid) == (Decimal("8000.00"), Decimal("6000.00"))
    assert rus.outstanding == Decimal("2000.00")
    assert rus.balance == Decimal("-37000.00"), "the fees do not cover the network"
    assert (by_code["analytiker"].exempt, by_code["analytiker"].cost) == (1, None)
    assert summary.total("cost") == Decimal("45001.00")
    assert summary.count("memberships") == 3


def test_a_cancelled_membership_is_counted_as_cancelled_not_as_fee_liable_or_exempt() -> None:
    summary = summarise(
        2018,
        [DecisionRow("rus", "RUS-nätverket", "invoiced"),
         DecisionRow("rus", "RUS-nätverket", "invoiced", cancelled=True),  # credited after it was invoiced
         DecisionRow("rus", "RUS-nätverket", "cancelled"),  # cancelled before it was invoiced
         DecisionRow("analytiker", "Analytikernätverket", "exempt", cancelled=True)],
        [LineRow("rus", "RUS-nätverket", Decimal("4000.00"), Decimal(0)),
         LineRow("rus", "RUS-nätverket", Decimal("4000.00"), Decimal(0)),
         LineRow("rus", "RUS-nätverket", Decimal("-4000.00"), Decimal(0))],
        [],
    )
    rus, analytiker = (next(n for n in summary.networks if n.network_code == code)
                       for code in ("rus", "analytiker"))
    assert (rus.memberships, rus.fee_liable, rus.exempt, rus.cancelled) == (3, 1, 0, 2)
    assert rus.invoiced == Decimal("4000.00"), "the credit note nets out the cancelled one's fee"
    assert (analytiker.memberships, analytiker.exempt, analytiker.cancelled) == (1, 0, 1)
    assert (summary.count("fee_liable"), summary.count("cancelled")) == (1, 3)


def test_a_payment_counts_in_proportion_and_never_more_than_in_full() -> None:
    assert paid_share(Decimal("5000"), Decimal("2500")) == Decimal("0.5")
    assert paid_share(Decimal("5000"), Decimal("9000")) == Decimal(1)
    assert paid_share(Decimal("0"), Decimal("100")) == Decimal(0)


def test_the_chart_scales_bars_to_the_largest_value() -> None:
    chart = bar_chart([("2017", [(Decimal(0), "bar-fees", "a"), (Decimal(350000), "bar-costs", "b")]),
                       ("2018", [(Decimal(175000), "bar-fees", "c"), (Decimal(0), "bar-costs", "d")])],
                      height=240, top=20, bottom=20)
    costs_2017 = chart.groups[0].bars[1]
    fees_2018 = chart.groups[1].bars[0]
    assert costs_2017.height == 200 and costs_2017.y == 20
    assert fees_2018.height == 100 and fees_2018.y == 120
    assert chart.groups[0].bars[0].height == 0
    assert chart.max_value == Decimal(350000)
    assert (costs_2017.label, chart.groups[0].bars[0].label) == ("350\u00a0000", "")
