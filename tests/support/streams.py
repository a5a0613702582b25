"""Read events back from a Redis stream in tests, decoding FastStream's binary wire format."""

from __future__ import annotations

from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis import Redis

from shared.events import parse_event


def decode_entry(fields: dict[bytes, bytes]) -> tuple[bytes, dict[str, Any]]:
    """The body and headers of one stream entry as FastStream wrote it."""
    return BinaryMessageFormatV1.parse(fields[b"__data__"])


def read_events(redis_url: str, stream: str) -> list[Any]:
    """Every event on ``stream``, parsed into its contract model, oldest first."""
    client = Redis.from_url(redis_url)
    try:
        entries = client.xrange(stream)
    finally:
        client.close()
    return [parse_event(decode_entry(fields)[0]) for _id, fields in entries]


def read_headers(redis_url: str, stream: str) -> list[dict[str, Any]]:
    client = Redis.from_url(redis_url)
    try:
        entries = client.xrange(stream)
    finally:
        client.close()
    return [decode_entry(fields)[1] for _id, fields in entries]
