"""Read events back from a Redis stream in tests, decoding FastStream's binary wire format."""

from __future__ import annotations

from typing import Any

from faststream.redis.parser.binary import BinaryMessageFormatV1
from redis import Redis

from shared.events import parse_event


def decode_entry(fields: dict[bytes, bytes]) -> tuple[bytes, dict[str, Any]]:
    """The body and headers of one stream entry as FastStream wrote it."""
    return BinaryMessageFormatV1.parse(fields[b"__data__"])


def entries(redis_url: str, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    client = Redis.from_url(redis_url)
    try:
        found: Any = client.xrange(stream)
    finally:
        client.close()
    return list(found or [])


def read_events(redis_url: str, stream: str) -> list[Any]:
    """Every event on ``stream``, parsed into its contract model, oldest first."""
    return [parse_event(decode_entry(fields)[0]) for _id, fields in entries(redis_url, stream)]


def read_headers(redis_url: str, stream: str) -> list[dict[str, Any]]:
    return [decode_entry(fields)[1] for _id, fields in entries(redis_url, stream)]
