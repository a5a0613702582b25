"""The weekly staff digest: what needs the secretariat's attention, in one email to STAFF_EMAIL.

Pure: :func:`collect` picks what to report from the read models' rows and
``now``; :func:`digest_email` renders it. The scheduler loads the rows and
sends it through the reminder ledger (rule ``staff_digest``, Mondays 07:00
Stockholm time), so it goes once a week, however often the scheduler runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from services.notifications import domain, timefmt
from services.notifications.domain import EmailKind, OutgoingEmail
from services.notifications.readmodels import DeadLetterSeen, InvoiceView, MeetingView

LOOKAHEAD_WEEKS = 6
FEW_SIGNUPS_WITHIN_DAYS = 14
LISTED = 50


@dataclass(frozen=True)
class FailedEmailLine:
    id: int
    recipient: str
    subject: str
    error: str


@dataclass(frozen=True)
class MeetingLine:
    title: str
    network: str
    starts: str
    deadline: str = ""
    registered: int = 0
    capacity: int = 0


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    organisation: str
    due_date: str
    outstanding: Decimal


@dataclass(frozen=True)
class DeadLetterLine:
    at: str
    group: str
    event_type: str
    error: str


@dataclass(frozen=True)
class Digest:
    week: str
    network_weeks: list[str] = field(default_factory=list)
    without_venue: list[MeetingLine] = field(default_factory=list)
    few_signups: list[MeetingLine] = field(default_factory=list)
    overdue: list[InvoiceLine] = field(default_factory=list)
    failed_emails: list[FailedEmailLine] = field(default_factory=list)
    failed_total: int = 0
    dead_letters: list[DeadLetterLine] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.network_weeks
            or self.without_venue
            or self.few_signups
            or self.overdue
            or self.failed_total
            or self.dead_letters
        )


def iso_week_key(now: datetime) -> str:
    year, week, _ = timefmt.local(now).isocalendar()
    return f"{year}-W{week:02d}"


def upcoming_network_weeks(
    weeks_by_year: Mapping[int, Sequence[int]], now: datetime, lookahead_weeks: int = LOOKAHEAD_WEEKS
) -> list[str]:
    """Network weeks starting within the next ``lookahead_weeks`` weeks (this week included)."""
    today = timefmt.local_today(now)
    this_monday = today - timedelta(days=today.weekday())
    last = this_monday + timedelta(weeks=lookahead_weeks)
    found: list[tuple[object, str]] = []
    for year, weeks in weeks_by_year.items():
        for week in weeks:
            try:
                monday = timefmt.iso_week_monday(year, week)
            except ValueError:
                continue
            if this_monday <= monday < last:
                found.append((monday, timefmt.week_label(year, week)))
    return [label for _monday, label in sorted(found, key=lambda pair: str(pair[0]))]


def few_signups(meeting: MeetingView, registered: int, now: datetime, share: float) -> bool:
    """Under ``share`` of capacity with the registration deadline within 14 days (and not passed)."""
    today = timefmt.local_today(now)
    deadline_near = today <= meeting.registration_deadline <= today + timedelta(days=FEW_SIGNUPS_WITHIN_DAYS)
    return deadline_near and meeting.capacity > 0 and registered < share * meeting.capacity


def collect(
    *,
    now: datetime,
    weeks_by_year: Mapping[int, Sequence[int]],
    meetings: Iterable[MeetingView],
    registered: dict[int, int],
    invoices: Iterable[InvoiceView],
    failed_emails: Sequence[FailedEmailLine],
    failed_total: int,
    dead_letters: Iterable[DeadLetterSeen],
    few_share: float,
) -> Digest:
    upcoming = sorted(
        (m for m in meetings if not m.cancelled and m.starts_at > now), key=lambda m: m.starts_at
    )

    def line(meeting: MeetingView) -> MeetingLine:
        return MeetingLine(
            title=domain.one_line(meeting.title),
            network=meeting.network_name,
            starts=timefmt.swedish_datetime(meeting.starts_at),
            deadline=timefmt.swedish_date(meeting.registration_deadline),
            registered=registered.get(meeting.meeting_id, 0),
            capacity=meeting.capacity,
        )

    overdue = sorted(
        (i for i in invoices if i.overdue_as_of is not None and not i.paid and not i.credited),
        key=lambda i: (i.due_date, i.number),
    )
    week_ago = now - timedelta(days=7)
    letters = sorted((d for d in dead_letters if d.recorded_at >= week_ago), key=lambda d: d.recorded_at)
    return Digest(
        week=iso_week_key(now),
        network_weeks=upcoming_network_weeks(weeks_by_year, now),
        without_venue=[line(m) for m in upcoming if not m.venue.strip()][:LISTED],
        few_signups=[
            line(m) for m in upcoming if few_signups(m, registered.get(m.meeting_id, 0), now, few_share)
        ][:LISTED],
        overdue=[
            InvoiceLine(
                number=i.number,
                organisation=i.organisation,
                due_date=timefmt.swedish_date(i.due_date),
                outstanding=i.outstanding,
            )
            for i in overdue
        ][:LISTED],
        failed_emails=list(failed_emails[:LISTED]),
        failed_total=failed_total,
        dead_letters=[
            DeadLetterLine(
                at=timefmt.swedish_datetime(d.recorded_at),
                group=d.group,
                event_type=d.event_type or "oläsbar händelse",
                error=domain.one_line(d.error, 300),
            )
            for d in letters
        ][:LISTED],
    )


def digest_email(digest: Digest, *, staff_email: str) -> OutgoingEmail:
    week = digest.week.split("-W")[-1].lstrip("0")
    return OutgoingEmail(
        kind=EmailKind.staff_digest,
        to_address=staff_email,
        to_name="Reglabs kansli",
        subject=f"Veckosammanställning vecka {week}: Reglab Nätverk",
        text=domain.render_template("staff_digest.txt", {"digest": digest, "week": week}),
    )
