"""Dead letters as the consumer writes them, for tests of the store, its pages and its audit trail."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from shared import wire
from shared.deadletters import record_dead_letter
from shared.events import REGISTRATION_STREAM
from tests.integration.test_outbox_and_consumer import signup


async def dead_letter_for(redis: Redis, group: str, signup_id: int, stream: str = REGISTRATION_STREAM) -> str:
    """A dead letter as the consumer writes it: the entry's whole FastStream ``__data__``."""
    event = signup(signup_id)
    payload = await wire.encode(event.model_dump_json(), message_id=str(event.event_id),
                                correlation_id=event.correlation_id)
    return await record_dead_letter(redis, stream=stream, group=group, entry_id=f"1-{signup_id}",
                                    payload=payload, error="ValueError: no fee policy for 2018")


def seed_dead_letter(redis_url: str, group: str, signup_id: int) -> str:
    """:func:`dead_letter_for` from synchronous code, on a connection of its own."""
    async def go() -> str:
        redis = Redis.from_url(redis_url)
        try:
            return await dead_letter_for(redis, group, signup_id)
        finally:
            await redis.aclose()

    return asyncio.run(go())
