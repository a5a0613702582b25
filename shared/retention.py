"""Stream retention that never drops an entry some consumer group still needs.

``XADD MAXLEN`` trims blindly, so an entry pending for a stopped consumer could
vanish. Instead we compute the oldest entry any group still needs (its oldest
pending entry, or the first one it has not been delivered) and trim with
``XTRIM MINID`` below both that and an age limit.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    millis, _, seq = entry_id.partition("-")
    return int(millis), int(seq or 0)


def oldest_needed(groups: list[dict[str, Any]], pending_min: dict[str, str | None]) -> str | None:
    """The smallest entry id some group still needs; None when there are no groups.

    Pure: ``groups`` is what XINFO GROUPS answers, ``pending_min`` each group's
    oldest pending id (XPENDING summary). Entries below the result are acked by
    every group.
    """
    bounds: list[tuple[int, int]] = []
    for group in groups:
        name = _as_str(group["name"])
        oldest_pending = pending_min.get(name)
        if oldest_pending:
            bounds.append(_id_tuple(oldest_pending))
        else:
            millis, seq = _id_tuple(_as_str(group["last-delivered-id"]))
            bounds.append((millis, seq + 1))  # everything up to last-delivered is acked
    if not bounds:
        return None
    millis, seq = min(bounds)
    return f"{millis}-{seq}"


async def trim_stream(redis: Redis, stream: str, *, keep_seconds: float, now: float | None = None) -> int:
    """Trim entries older than ``keep_seconds`` that every group has acked; returns how many."""
    if not await redis.exists(stream):
        return 0
    groups: Any = await redis.xinfo_groups(stream)
    if not groups:
        return 0  # no consumer has ever read it: keep everything
    pending_min: dict[str, str | None] = {}
    for group in groups:
        name = _as_str(group["name"])
        summary: Any = await redis.xpending(stream, name)
        pending_min[name] = _as_str(summary["min"]) if summary.get("min") else None
    needed = oldest_needed(list(groups), pending_min)
    assert needed is not None
    age_limit_ms = int(((now if now is not None else time.time()) - keep_seconds) * 1000)
    minid = min(_id_tuple(needed), (age_limit_ms, 0))
    trimmed = int(await redis.xtrim(stream, minid=f"{minid[0]}-{minid[1]}", approximate=False))
    if trimmed:
        log.info("stream trimmed", stream=stream, entries=trimmed, below=f"{minid[0]}-{minid[1]}")
    return trimmed
