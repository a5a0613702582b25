"""Database work in a worker thread that a shutdown cannot cut loose.

Cancelling a task that awaits ``anyio.to_thread.run_sync`` does not stop the
thread: it runs on, holding a pooled connection, while the service disposes
of its engine. That connection is then never closed (psycopg warns when the
garbage collector finds it). Background loops and consumers therefore wait
for their thread to finish (commit or roll back) before they give way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")


async def finish_in_thread(work: Callable[..., T], *args: object) -> T:
    """``work(*args)`` in a worker thread, seen through to its end even if this task is cancelled."""
    running = asyncio.ensure_future(anyio.to_thread.run_sync(work, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise
