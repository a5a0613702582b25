"""FastStream's binary wire format, for stream entries written without a broker.

``broker.publish`` writes one field, ``__data__``: a magic header, the headers
(``correlation_id``, ``content-type``, ``message_id``) and the body. The
dead-letter code and the replay command write entries with a plain redis
client, so they encode here exactly what the broker would, and a subscriber
reads them like any other.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1

DATA_FIELD = "__data__"


async def encode(body: str | bytes, *, message_id: str, correlation_id: str) -> bytes:
    """The ``__data__`` bytes ``broker.publish(body, headers={"message_id": ...})`` would write."""
    return await BinaryMessageFormatV1.encode(
        message=body, reply_to=None, headers={"message_id": message_id}, correlation_id=correlation_id)


def is_faststream(payload: bytes) -> bool:
    """True when ``payload`` is a whole FastStream binary message (not just a body)."""
    return payload.startswith(BinaryMessageFormatV1.IDENTITY_HEADER)


def decode(payload: bytes) -> tuple[bytes, dict[str, Any]]:
    """The body and headers; a payload that is no FastStream message is returned as the body."""
    return BinaryMessageFormatV1.parse(payload)


def peek_event(payload: bytes) -> tuple[str, str, str]:
    """``(type, event_id, correlation_id)`` read leniently from a payload; empty strings if absent.

    For payloads that may be invalid (a dead letter): no contract validation,
    only what the JSON body says about itself.
    """
    body, headers = decode(payload)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}

    def text(value: object) -> str:
        return value if isinstance(value, str) else ""

    return (text(data.get("type")), text(data.get("event_id")),
            text(data.get("correlation_id")) or text(headers.get("correlation_id")))
