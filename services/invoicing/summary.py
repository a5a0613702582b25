"""The board's view, pure: per network and year, memberships, fees invoiced and paid, against costs.

Amounts are excluding VAT (what Reglab keeps). A payment is spread over its
invoice's lines in proportion to their amounts, so a part-paid invoice for two
networks counts half paid for each. Chart geometry is computed here too, for
an inline SVG the server renders (no script: the CSP forbids inline script).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from shared.money import money


@dataclass
class NetworkYear:
    network_code: str
    network_name: str
    memberships: int = 0
    fee_liable: int = 0
    exempt: int = 0
    cancelled: int = 0  # cancelled since: neither fee-liable nor exempt any more, whatever was decided
    invoiced: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    cost: Decimal | None = None

    @property
    def outstanding(self) -> Decimal:
        return money(max(self.invoiced - self.paid, Decimal(0)))

    @property
    def balance(self) -> Decimal:
        """Fees invoiced less the network's cost: negative when the fees do not cover it."""
        return money(self.invoiced - (self.cost or Decimal(0)))


@dataclass
class YearSummary:
    year: int
    networks: list[NetworkYear] = field(default_factory=list)

    def total(self, attribute: str) -> Decimal:
        return money(sum((getattr(n, attribute) or Decimal(0) for n in self.networks), Decimal(0)))

    def count(self, attribute: str) -> int:
        return sum(int(getattr(n, attribute)) for n in self.networks)


@dataclass(frozen=True)
class DecisionRow:
    network_code: str
    network_name: str
    outcome: str  # invoiced, exempt, no_policy, cancelled (before it was invoiced)
    cancelled: bool = False  # the membership was cancelled, before or after its fee was decided


@dataclass(frozen=True)
class LineRow:
    """One invoice line of the year (credit note lines are negative), with its invoice's paid share."""

    network_code: str
    network_name: str
    amount: Decimal
    paid_share: Decimal  # 0..1: what part of the invoice has been paid


def paid_share(due: Decimal, paid: Decimal) -> Decimal:
    """The part of an invoice paid, from 0 to 1 (an overpayment counts as fully paid)."""
    if due <= 0:
        return Decimal(0)
    return min(max(paid, Decimal(0)) / due, Decimal(1))


def summarise(year: int, decisions: Iterable[DecisionRow], lines: Iterable[LineRow],
              costs: Iterable[tuple[str, str, Decimal]]) -> YearSummary:
    by_code: dict[str, NetworkYear] = {}

    def network(code: str, name: str) -> NetworkYear:
        if code not in by_code:
            by_code[code] = NetworkYear(code, name)
        return by_code[code]

    for decision in decisions:
        row = network(decision.network_code, decision.network_name)
        row.memberships += 1
        if decision.cancelled or decision.outcome == "cancelled":
            # A credit note took back what it was invoiced (in the lines below): no longer fee-liable.
            row.cancelled += 1
        elif decision.outcome == "invoiced":
            row.fee_liable += 1
        elif decision.outcome == "exempt":
            row.exempt += 1
    for line in lines:
        row = network(line.network_code, line.network_name)
        row.invoiced += line.amount
        if line.amount > 0:
            row.paid += line.amount * line.paid_share
    for code, name, amount in costs:
        row = network(code, name)
        row.cost = (row.cost or Decimal(0)) + amount
    for row in by_code.values():
        row.invoiced = money(row.invoiced)
        row.paid = money(row.paid)
    return YearSummary(year, sorted(by_code.values(), key=lambda n: n.network_name.casefold()))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str
    label: str = ""


@dataclass(frozen=True)
class Group:
    label: str
    label_x: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    groups: tuple[Group, ...]
    max_value: Decimal


def whole_kronor(value: Decimal) -> str:
    """``Decimal("45000.00")`` → ``"45 000"``: a bar's label, grouped like the Swedish amounts."""
    return f"{int(money(value)):,}".replace(",", "\u00a0")


def bar_chart(groups: Sequence[tuple[str, Sequence[tuple[Decimal, str, str]]]], *, height: int = 240,
              group_width: int = 120, bar_width: int = 40, top: int = 24, bottom: int = 40) -> Chart:
    """Grouped bars: each group a label and its (value, css class, title) bars, scaled to the largest."""
    largest = max((value for _label, bars in groups for value, _c, _t in bars), default=Decimal(0))
    scale = Decimal(height - top - bottom) / largest if largest > 0 else Decimal(0)
    baseline = float(height - bottom)
    built = []
    for index, (label, bars) in enumerate(groups):
        # Bars centred in their group, so a long label under them has room on both sides.
        left = index * group_width + (group_width - len(bars) * (bar_width + 4)) / 2 + 8
        drawn = []
        for position, (value, css_class, title) in enumerate(bars):
            bar_height = float(max(value, Decimal(0)) * scale)
            drawn.append(Bar(x=left + position * (bar_width + 4), y=baseline - bar_height, width=bar_width,
                             height=bar_height, css_class=css_class, title=title,
                             label=whole_kronor(value) if value else ""))
        built.append(Group(label=label, label_x=left + len(bars) * (bar_width + 4) / 2, bars=tuple(drawn)))
    return Chart(width=max(len(groups), 1) * group_width + 16, height=height, baseline=baseline,
                 groups=tuple(built), max_value=largest)
