"""The yearly run's pure rules: which years may be renewed, what an organisation renews, progress."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


class RenewalRefused(ValueError):
    """A run that cannot start; the message is Swedish and says what to do."""


def renewal_problem(from_year: int, to_year: int, policy_years: Collection[int]) -> str | None:
    """Why from_year → to_year cannot be renewed, or None."""
    if to_year != from_year + 1:
        return f"Förnyelsen går från ett år till nästa: från {from_year} förnyas till {from_year + 1}."
    if to_year not in policy_years:
        return (f"Det finns ingen avgiftspolicy för {to_year}. Lägg till {to_year}.toml "
                f"(i FEE_POLICY_DIR) innan medlemskapen förnyas.")
    return None


@dataclass(frozen=True)
class Candidate:
    """A membership of the year being renewed, as the run sees it."""

    membership_id: int
    network_id: int
    status: str
    opted_out: bool


def to_renew(candidates: Iterable[Candidate], networks_next_year: Collection[int]) -> list[Candidate]:
    """What an organisation renews: active memberships not opted out, and not already in the new year.

    A network the organisation already has next year (signed up already, or
    renewed by an earlier run, or cancelled there) is never renewed again: that
    is what makes a second run issue nothing new.
    """
    chosen: list[Candidate] = []
    seen = set(networks_next_year)
    for candidate in candidates:
        if candidate.status != "active" or candidate.opted_out or candidate.network_id in seen:
            continue
        seen.add(candidate.network_id)
        chosen.append(candidate)
    return chosen


def progress_percent(done: int, total: int) -> int:
    """Whole percent done; a run with nothing to do is complete."""
    if total <= 0:
        return 100
    return min(100, done * 100 // total)
