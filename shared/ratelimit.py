"""Rate limits and login lock-outs counted in Redis, so they hold across instances of a service.

A fixed window per key: one Lua script increments the counter and sets its
expiry on the first hit, atomically, and answers the count and the time left.
Sign-ups (form and API) and login attempts are limited per client address;
failed logins are counted per account and per address, slowed down, then
locked for a while.

When Redis does not answer, sign-ups **fail open** (the sign-up itself needs
only the database, and turning organisations away because the limiter is down
would be worse than a burst of spam the honeypot and validation still stop);
logins **fail closed**, since sessions live in Redis and a login cannot work
without it anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog
from fastapi import Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

PREFIX = "reglab:rate:"

# KEYS[1] the counter; ARGV[1] the window in ms. Returns {count, ms left}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {count, left}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # whole seconds until the window ends


def retry_text(seconds: int) -> str:
    """Swedish: "om 1 minut", "om 15 minuter", "om 30 sekunder"."""
    if seconds < 60:
        return f"om {seconds} sekund" if seconds == 1 else f"om {seconds} sekunder"
    minutes = math.ceil(seconds / 60)
    return "om 1 minut" if minutes == 1 else f"om {minutes} minuter"


class RateLimiter:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._hit = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_seconds: float) -> Decision:
        """Count one request under ``key``; allowed while the count is at most ``limit`` (0: no limit)."""
        if limit <= 0:
            return Decision(True, 0, 0)
        count, left_ms = await self._hit(keys=[PREFIX + key], args=[max(1, int(window_seconds * 1000))])
        retry_after = max(1, math.ceil(int(left_ms) / 1000))
        return Decision(int(count) <= limit, int(count), retry_after)

    async def hit_open(self, key: str, limit: int, window_seconds: float) -> Decision:
        """As :meth:`hit`, but allows the request when Redis does not answer (fail open)."""
        try:
            return await self.hit(key, limit, window_seconds)
        except (RedisError, OSError) as error:
            log.warning("rate limiter unreachable; allowing the request", key=key.split(":")[0],
                        error=error.__class__.__name__)
            return Decision(True, 0, 0)

    async def count(self, key: str) -> tuple[int, int]:
        """(the counter's value, seconds left) without counting."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(PREFIX + key)
            pipe.pttl(PREFIX + key)
            value, left_ms = await pipe.execute()
        return int(value or 0), max(0, math.ceil(int(left_ms) / 1000))

    async def reset(self, key: str) -> None:
        await self.redis.delete(PREFIX + key)


async def limit_client(request: Request, name: str, limit: int, window_seconds: float) -> Decision:
    """Count one request of kind ``name`` from the client's address (fails open, see above)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    address = request.client.host if request.client else "unknown"
    return await limiter.hit_open(f"{name}:addr:{address}", limit, window_seconds)


def too_many_text(decision: Decision) -> str:
    return f"För många försök från din adress. Försök igen {retry_text(decision.retry_after)}."
