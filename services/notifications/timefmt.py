"""Times and dates as Swedish emails show them, in Europe/Stockholm: "tisdag 8 december 2026 kl. 09.00"."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


def local(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    return value.astimezone(STOCKHOLM)


def swedish_date(value: date) -> str:
    """``tisdag 8 december 2026``."""
    return f"{WEEKDAYS[value.weekday()]} {value.day} {MONTHS[value.month - 1]} {value.year}"


def swedish_datetime(value: datetime) -> str:
    """``tisdag 8 december 2026 kl. 09.00`` (Stockholm time)."""
    at = local(value)
    return f"{swedish_date(at.date())} kl. {at:%H.%M}"


def clock_time(value: datetime) -> str:
    return f"{local(value):%H.%M}"


def at_local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock time in Stockholm on ``day``, as aware UTC (DST handled by zoneinfo)."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=STOCKHOLM).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """23:59:59 Stockholm time on ``day``, as aware UTC."""
    return at_local(day, 23, 59, 59)


def local_today(now: datetime) -> date:
    return local(now).date()


def iso_week_monday(year: int, week: int) -> date:
    return date.fromisocalendar(year, week, 1)


def week_label(year: int, week: int) -> str:
    monday = iso_week_monday(year, week)
    sunday = monday + timedelta(days=6)
    first, last = f"{monday.day} {MONTHS[monday.month - 1]}", f"{sunday.day} {MONTHS[sunday.month - 1]}"
    return f"vecka {week} ({first}–{last} {sunday.year})"
