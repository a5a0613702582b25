"""Waiting for a wake-up or a poll interval, whichever comes first, without losing a shutdown."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    """Return when ``event`` is set or ``seconds`` have passed.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that
    arrives just as the event is set, so a loop built on it could ignore its
    shutdown for good (seen as a test that hung in ``task.cancel()``).
    ``asyncio.timeout`` tells its own timeout from a cancellation.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
