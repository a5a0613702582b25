"""Retry timing: exponential backoff with jitter, capped, and when an email counts as failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import EmailStatus, next_attempt_at, retry_delay, status_after_failure


def test_the_delay_doubles_with_each_attempt() -> None:
    delays = [retry_delay(n, base=1.0, ceiling=300.0, jitter=1.0) for n in range(1, 6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_jitter_keeps_the_delay_within_the_upper_half_so_it_still_grows() -> None:
    for attempts in range(1, 10):
        full = retry_delay(attempts, base=1.0, ceiling=300.0, jitter=1.0)
        low = retry_delay(attempts, base=1.0, ceiling=300.0, jitter=0.0)
        middle = retry_delay(attempts, base=1.0, ceiling=300.0, jitter=0.5)
        assert low == full / 2 and low < middle < full
        next_low = retry_delay(attempts + 1, base=1.0, ceiling=300.0, jitter=0.0)
        next_full = retry_delay(attempts + 1, base=1.0, ceiling=300.0, jitter=1.0)
        # Each attempt waits at least as long as the previous one could, until the cap.
        assert next_low >= full or next_full == 300.0


def test_the_delay_is_capped_at_the_ceiling_even_after_very_many_attempts() -> None:
    assert retry_delay(10, base=1.0, ceiling=300.0, jitter=1.0) == 300.0
    assert retry_delay(10_000, base=1.0, ceiling=300.0, jitter=1.0) == 300.0
    assert 150.0 <= retry_delay(10_000, base=1.0, ceiling=300.0, jitter=0.3) <= 300.0


def test_jitter_outside_zero_to_one_is_a_bug() -> None:
    with pytest.raises(ValueError):
        retry_delay(1, base=1.0, ceiling=10.0, jitter=1.5)


def test_the_next_attempt_is_now_plus_the_delay() -> None:
    now = datetime(2018, 1, 15, 9, 0, tzinfo=UTC)
    assert next_attempt_at(now, 3, base=1.0, ceiling=300.0, jitter=1.0) == now + timedelta(seconds=4)


def test_an_email_is_retried_for_ever_unless_a_maximum_is_set() -> None:
    assert status_after_failure(1_000, max_attempts=0) is EmailStatus.queued
    assert status_after_failure(4, max_attempts=5) is EmailStatus.queued
    assert status_after_failure(5, max_attempts=5) is EmailStatus.failed
