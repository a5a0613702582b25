"""The staff dashboard's figures: members, fees, meetings against the policy, sign-ups, the weeks' calendar.

:func:`bar_chart` is pure: it lays out horizontal bars for a server-rendered SVG
(no script, so the Content-Security-Policy holds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, func, select

from services.registration.catalogue import ACTIVE
from services.registration.meetings.core import weeks_of
from services.registration.meetings.models import Meeting, MeetingParticipant
from services.registration.meetings.rules import MEETINGS_PER_YEAR, local_date, week_span
from services.registration.models import Membership, Network
from shared.money import format_sek
from shared.policy import FeePolicy, fee_for


@dataclass(frozen=True)
class NetworkYear:
    code: str
    name: str
    members: int
    fee: str  # "4 000 kr", "Avgiftsfri" or "Ingen avgiftspolicy"
    exemption_reason: str
    exempt: bool
    meetings: int
    meetings_with_reasons: int
    registered: int
    waiting: int

    @property
    def beyond_policy(self) -> bool:
        return self.meetings > MEETINGS_PER_YEAR


@dataclass(frozen=True)
class CalendarWeek:
    week: int
    monday: date
    sunday: date
    meetings: tuple[tuple[Meeting, str], ...]  # (meeting, network name)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: float
    flagged: bool


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    plot_width: int
    # x of a reference line (e.g. the policy's two meetings), or None.
    mark_x: float | None = None
    mark_label: str = ""
    ticks: tuple[tuple[float, int], ...] = field(default_factory=tuple)


ROW = 28
LABEL_WIDTH = 250
PLOT_WIDTH = 380


def bar_chart(
    rows: Sequence[tuple[str, int, bool]], *, mark: int | None = None, mark_label: str = ""
) -> Chart:
    """Horizontal bars scaled to the largest value (or the mark, if larger); ``flagged`` bars stand out."""
    top = max([value for _label, value, _flag in rows] + [mark or 0, 1])
    scale = PLOT_WIDTH / top
    bars = tuple(
        Bar(label, value, 10 + i * ROW, round(value * scale, 1), flagged)
        for i, (label, value, flagged) in enumerate(rows)
    )
    step = max(1, -(-top // 5))
    ticks = tuple((round(LABEL_WIDTH + t * scale, 1), t) for t in range(0, top + 1, step))
    return Chart(
        bars=bars,
        width=LABEL_WIDTH + PLOT_WIDTH + 40,
        height=20 + len(rows) * ROW + 20,
        label_width=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        mark_x=None if mark is None else round(LABEL_WIDTH + mark * scale, 1),
        mark_label=mark_label,
        ticks=ticks,
    )


def years_with_data(session: Session) -> list[int]:
    years = set(session.exec(select(Membership.year).distinct()).all())
    years |= set(session.exec(select(Meeting.year).distinct()).all())
    return sorted(years, reverse=True)


@dataclass(frozen=True)
class Dashboard:
    year: int
    years: list[int]
    networks: list[NetworkYear]
    weeks: list[CalendarWeek]
    outside_weeks: list[tuple[Meeting, str]]
    flagged: list[tuple[Meeting, str]]
    members_chart: Chart
    meetings_chart: Chart


def fee_text(policy: FeePolicy | None, code: str) -> tuple[str, str]:
    """What a membership costs that year, and the exemption's reason (empty when fee-liable)."""
    if policy is None:
        return "Ingen avgiftspolicy", ""
    fee = fee_for(policy, code)
    if fee.amount is None:
        return "Avgiftsfri", fee.exemption_reason
    return format_sek(fee.amount, decimals=False), ""


def dashboard(session: Session, year: int, policies: dict[int, FeePolicy]) -> Dashboard:
    networks = [
        n for n in session.exec(select(Network).order_by(col(Network.position))).all() if n.status == ACTIVE
    ]
    members: Counter[int | None] = Counter(
        dict(
            session.exec(
                select(Membership.network_id, func.count())
                .where(Membership.year == year, Membership.status == "active")
                .group_by(col(Membership.network_id))
            ).all()
        )
    )
    meetings = session.exec(
        select(Meeting)
        .where(Meeting.year == year, Meeting.status == "scheduled")
        .order_by(col(Meeting.starts_at))
    ).all()
    signups: Counter[tuple[int | None, str]] = Counter(
        {
            (m, s): c
            for m, s, c in session.exec(
                select(MeetingParticipant.meeting_id, MeetingParticipant.status, func.count())
                .where(col(MeetingParticipant.meeting_id).in_([m.id for m in meetings]))
                .group_by(col(MeetingParticipant.meeting_id), col(MeetingParticipant.status))
            ).all()
        }
    )
    names = {n.id: n.name for n in networks}
    rows: list[NetworkYear] = []
    for network in networks:
        own = [m for m in meetings if m.network_id == network.id]
        fee, reason = fee_text(policies.get(year), network.code)
        rows.append(
            NetworkYear(
                code=network.code,
                name=network.name,
                members=members.get(network.id, 0),
                fee=fee,
                exemption_reason=reason,
                exempt=bool(reason),
                meetings=len(own),
                meetings_with_reasons=sum(1 for m in own if m.outside_weeks_reason or m.extra_meeting_reason),
                registered=sum(signups.get((m.id, "registered"), 0) for m in own),
                waiting=sum(signups.get((m.id, "waiting"), 0) for m in own),
            )
        )
    weeks = weeks_of(session, year)
    calendar: list[CalendarWeek] = []
    placed: set[int | None] = set()
    for week in weeks:
        monday, sunday = week_span(year, week)
        inside = tuple(
            (m, names.get(m.network_id, "?")) for m in meetings if monday <= local_date(m.starts_at) <= sunday
        )
        placed |= {m.id for m, _n in inside}
        calendar.append(CalendarWeek(week, monday, sunday, inside))
    outside = [(m, names.get(m.network_id, "?")) for m in meetings if m.id not in placed]
    flagged = [
        (m, names.get(m.network_id, "?"))
        for m in meetings
        if m.outside_weeks_reason or m.extra_meeting_reason
    ]
    return Dashboard(
        year=year,
        years=years_with_data(session),
        networks=rows,
        weeks=calendar,
        outside_weeks=outside,
        flagged=flagged,
        members_chart=bar_chart([(r.name, r.members, r.exempt) for r in rows]),
        meetings_chart=bar_chart(
            [(r.name, r.meetings, r.beyond_policy) for r in rows],
            mark=MEETINGS_PER_YEAR,
            mark_label="policy: två per år",
        ),
    )


def default_dashboard_year(session: Session, now: datetime) -> int:
    years = years_with_data(session)
    current = local_date(now).year
    return current if current in years or not years else years[0]
