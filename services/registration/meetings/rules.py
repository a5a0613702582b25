"""Pure rules for meetings: network weeks, the two-a-year policy, places and the waiting list, deadlines.

No I/O and no clock: ``now`` is passed in. Times are aware; local dates are
dates in Europe/Stockholm, where Reglab's meetings take place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared.digits import is_digits

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# "Meetings are limited, as far as possible, to two per network and year."
MEETINGS_PER_YEAR = 2
UNSUBSCRIBE_LINK_DAYS = 365

SignupStatus = Literal["registered", "waiting"]


class WeeksInvalid(ValueError):
    """Network weeks that cannot be used; the message is Swedish, for the page."""


def weeks_in_iso_year(year: int) -> int:
    """52 or 53: 28 December always lies in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar().week


def parse_weeks(year: int, text: str) -> tuple[int, ...]:
    """Week numbers typed as ``"6, 11 20"``: each 1..53 and existing in ``year``; sorted, without repeats."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    weeks: set[int] = set()
    last = weeks_in_iso_year(year)
    for part in parts:
        if not is_digits(part):
            raise WeeksInvalid(f"”{part}” är inget veckonummer. Skriv veckonummer 1–53, t.ex. 6, 11, 38.")
        week = int(part)
        if not 1 <= week <= 53:
            raise WeeksInvalid(f"Vecka {week} finns inte: veckonummer går från 1 till 53.")
        if week > last:
            raise WeeksInvalid(f"Vecka {week} finns inte år {year}, som har {last} veckor.")
        weeks.add(week)
    return tuple(sorted(weeks))


def week_span(year: int, week: int) -> tuple[date, date]:
    """Monday and Sunday of an ISO week."""
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=6)


def local_date(at: datetime) -> date:
    return at.astimezone(STOCKHOLM).date()


def in_network_week(starts_at: datetime, weeks: Iterable[int], year: int) -> bool:
    """Whether the meeting's (Stockholm) date lies in one of ``year``'s network weeks."""
    iso = local_date(starts_at).isocalendar()
    return iso.year == year and iso.week in set(weeks)


def meeting_year(starts_at: datetime) -> int:
    return local_date(starts_at).year


@dataclass(frozen=True)
class ReasonsNeeded:
    outside_weeks: bool
    beyond_policy: bool


def reasons_needed(starts_at: datetime, weeks: Iterable[int], other_meetings_that_year: int) -> ReasonsNeeded:
    """A meeting outside a network week, or a third (or later) one for the network and year, needs a reason.

    ``other_meetings_that_year`` counts the network's other meetings that year that are not cancelled.
    """
    year = meeting_year(starts_at)
    return ReasonsNeeded(
        outside_weeks=not in_network_week(starts_at, weeks, year),
        beyond_policy=other_meetings_that_year >= MEETINGS_PER_YEAR,
    )


def signup_status(capacity: int, registered: int) -> SignupStatus:
    """A place while one is free, else the waiting list."""
    return "registered" if registered < capacity else "waiting"


def places_to_promote(capacity: int, registered: int, waiting: int) -> int:
    """How many from the head of the waiting list get a place now."""
    return max(0, min(capacity - registered, waiting))


def waiting_order(entries: Sequence[tuple[int, datetime]]) -> list[int]:
    """Participant ids in waiting-list order: first come (by ``queued_at``), then by id."""
    return [pid for pid, _at in sorted(entries, key=lambda e: (e[1], e[0]))]


def registration_open(deadline: date, now: datetime) -> bool:
    """Open through the whole deadline day, Stockholm time."""
    return local_date(now) <= deadline


def end_of_day(day: date) -> datetime:
    """23:59:59 Stockholm time on ``day``, as aware UTC: when a sign-up link expires."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=STOCKHOLM).astimezone(UTC)


def unsubscribe_expiry(sent_at: datetime) -> datetime:
    return sent_at + timedelta(days=UNSUBSCRIBE_LINK_DAYS)


# --- Changes, in the Swedish labels the change notice shows ---

LABELS = {
    "title": "Rubrik",
    "starts_at": "Starttid",
    "ends_at": "Sluttid",
    "venue": "Lokal",
    "address": "Adress",
    "agenda": "Program",
    "capacity": "Antal platser",
    "registration_deadline": "Sista anmälningsdag",
}


def display(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def changes(before: dict[str, object], after: dict[str, object]) -> tuple[tuple[str, str, str], ...]:
    """(Swedish label, before, after) for each field the invitation shows that differs."""
    return tuple(
        (label, display(before[key]), display(after[key]))
        for key, label in LABELS.items()
        if before.get(key) != after.get(key)
    )
