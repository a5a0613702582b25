"""Dead letters: entries a consumer group gave up on, kept for staff to see and replay.

A consumer moves an entry it cannot handle to ``<stream>.dead-letters`` with
the fields ``stream``, ``group``, ``entry_id``, ``error``, ``payload`` (the
entry's whole FastStream ``__data__``, headers included) and ``failed_at``, and
publishes a ``dead_letter.recorded`` event so that staff get an email.

A dead letter belongs to one group (one service). Replaying it adds the
original payload to the original stream as a new entry and deletes the dead
letter, in one atomic Redis script, so replaying twice (or from two places at
once) publishes it once. A new entry reaches every group on the stream, not
only the one that failed: the others have recorded the event id as processed
and skip it as a duplicate, which is harmless.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from shared import wire
from shared.events import ALL_STREAMS, OPERATIONS_STREAM, DeadLetterRecorded, utc_now

log = structlog.get_logger(__name__)

# Fixed: the same entry dead-lettered twice must give the same event id.
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "dead-letters.reglab-natverk")
ERROR_LENGTH = 2000
LIST_LIMIT = 1000
ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}")

# Atomic: publish again only if the dead letter is still there, then delete it.
_REPLAY_SCRIPT = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
local new_id = redis.call('XADD', KEYS[2], '*', '__data__', ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[1])
return new_id
"""


def count_text(count: int) -> str:
    """Swedish: "1 dött meddelande", "2 döda meddelanden"."""
    return f"{count} dött meddelande" if count == 1 else f"{count} döda meddelanden"


def dead_letter_stream(stream: str) -> str:
    return f"{stream}.dead-letters"


class DeadLetter(BaseModel):
    """One dead letter as staff see it; ``id`` is its entry id in ``<stream>.dead-letters``."""

    id: str
    stream: str = Field(description="the stream the entry was read from")
    group: str = Field(description="the consumer group (service) that gave up on it")
    entry_id: str = Field(description="the entry's id in the original stream")
    error: str
    failed_at: datetime | None
    event_type: str = Field(description="empty when the payload is not a readable event")
    event_id: str
    correlation_id: str
    payload: bytes = Field(exclude=True, repr=False)


class DeadLetterNotFound(LookupError):
    """No dead letter with this id belongs to this group (never did, or already replayed)."""


class DeadLetterAmbiguous(LookupError):
    """The id exists in more than one of the group's dead-letter streams: name the stream."""


class Replayed(BaseModel):
    dead_letter: DeadLetter
    new_entry_id: str


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def parse_entry(entry_id: bytes | str, fields: Mapping[Any, Any]) -> DeadLetter:
    """A dead-letter stream entry as a :class:`DeadLetter`; pure, tolerant of odd payloads."""
    values = {_text(key): value for key, value in fields.items()}
    payload = values.get("payload", b"")
    payload = payload if isinstance(payload, bytes) else str(payload).encode()
    event_type, event_id, correlation_id = wire.peek_event(payload)
    try:
        failed_at: datetime | None = datetime.fromisoformat(_text(values.get("failed_at")))
    except ValueError:
        failed_at = None
    return DeadLetter(id=_text(entry_id), stream=_text(values.get("stream")),
                      group=_text(values.get("group")), entry_id=_text(values.get("entry_id")),
                      error=_text(values.get("error")), failed_at=failed_at, event_type=event_type,
                      event_id=event_id, correlation_id=correlation_id, payload=payload)


async def replay_data(letter: DeadLetter) -> bytes:
    """What to add as ``__data__``: the stored FastStream message, or the bare body wrapped in one."""
    if wire.is_faststream(letter.payload):
        return letter.payload
    return await wire.encode(letter.payload, message_id=letter.event_id or str(uuid.uuid4()),
                             correlation_id=letter.correlation_id)


def recorded_event(*, dead_letter_id: str, stream: str, group: str, entry_id: str, error: str,
                   payload: bytes, now: datetime) -> DeadLetterRecorded:
    """The ``dead_letter.recorded`` event for a dead letter just written."""
    event_type, event_id, correlation_id = wire.peek_event(payload)
    return DeadLetterRecorded(
        event_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"{stream}|{group}|{entry_id}"), occurred_at=now,
        correlation_id=correlation_id or f"dead-letter-{entry_id}", dead_letter_id=dead_letter_id,
        source_stream=stream, group=group, entry_id=entry_id, error=error[:ERROR_LENGTH],
        event_type=event_type[:100], source_event_id=event_id[:36])


async def record_dead_letter(redis: Redis, *, stream: str, group: str, entry_id: str, payload: bytes,
                             error: str) -> str:
    """Write the dead letter, then publish ``dead_letter.recorded``; returns the dead letter's id.

    Called before the original entry is acked: if we crash in between, the entry
    is reclaimed and dead-lettered again, and the second event has the same id.
    Dead letters of the operations stream raise no event, so an alert that
    cannot be handled never alerts about itself.
    """
    now = utc_now()
    fields: dict[Any, Any] = {"stream": stream, "group": group, "entry_id": entry_id,
                              "error": error[:ERROR_LENGTH], "payload": payload,
                              "failed_at": now.isoformat()}
    dead_letter_id = _text(await redis.xadd(dead_letter_stream(stream), fields))
    log.error("message dead-lettered", stream=stream, group=group, entry_id=entry_id,
              dead_letter_id=dead_letter_id, error=error[:200])
    if stream != OPERATIONS_STREAM:
        event = recorded_event(dead_letter_id=dead_letter_id, stream=stream, group=group,
                               entry_id=entry_id, error=error, payload=payload, now=now)
        data = await wire.encode(event.model_dump_json(), message_id=str(event.event_id),
                                 correlation_id=event.correlation_id)
        await redis.xadd(OPERATIONS_STREAM, {wire.DATA_FIELD: data})
    return dead_letter_id


async def forget_dead_letters(redis: Redis, email: str, streams: Iterable[str] = ALL_STREAMS) -> int:
    """GDPR erasure: delete every dead letter (any group) whose payload names ``email``; returns how many.

    Such a letter can no longer be replayed; the event was about (or addressed
    to) a person who asked to be erased. ``email`` is compared lower-case.
    """
    needle = email.lower().encode("utf-8")
    removed = 0
    for stream in streams:
        key = dead_letter_stream(stream)
        entries: Any = await redis.xrange(key)
        doomed = [entry_id for entry_id, fields in entries or []
                  if any(needle in _bytes(value).lower() for value in fields.values())]
        if doomed:
            removed += int(await redis.xdel(key, *doomed))
    if removed:
        log.info("dead letters erased", count=removed)
    return removed


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


class DeadLetterStore:
    """The dead letters of one group (a service's consumer group) on the streams it may read."""

    def __init__(self, redis: Redis, group: str, streams: Iterable[str] = ALL_STREAMS) -> None:
        self.redis = redis
        self.group = group
        self.streams = tuple(streams)

    async def letters(self, limit: int = LIST_LIMIT) -> list[DeadLetter]:
        """Oldest first, at most ``limit`` per stream."""
        found: list[DeadLetter] = []
        for stream in self.streams:
            entries: Any = await self.redis.xrange(dead_letter_stream(stream), count=limit)
            for entry_id, fields in entries or []:
                letter = parse_entry(entry_id, fields)
                if letter.group == self.group:
                    found.append(letter)
        return found

    async def find(self, dead_letter_id: str, stream: str | None = None) -> DeadLetter:
        if not ENTRY_ID.fullmatch(dead_letter_id):
            raise DeadLetterNotFound(dead_letter_id)  # not an entry id: Redis would refuse it
        matches: list[DeadLetter] = []
        for candidate in self.streams:
            if stream is not None and candidate != stream:
                continue
            entries: Any = await self.redis.xrange(dead_letter_stream(candidate), dead_letter_id,
                                                   dead_letter_id)
            matches += [letter for letter in (parse_entry(i, f) for i, f in entries or [])
                        if letter.group == self.group]
        if not matches:
            raise DeadLetterNotFound(dead_letter_id)
        if len(matches) > 1:
            raise DeadLetterAmbiguous(dead_letter_id)
        return matches[0]

    async def replay(self, dead_letter_id: str, stream: str | None = None) -> Replayed:
        """Publish the dead letter's payload to its stream again and delete it; atomic."""
        letter = await self.find(dead_letter_id, stream)
        new_id = await self.redis.eval(
            _REPLAY_SCRIPT, 2, dead_letter_stream(letter.stream), letter.stream, letter.id,
            await replay_data(letter))
        if new_id is None:
            raise DeadLetterNotFound(dead_letter_id)  # replayed meanwhile, elsewhere
        log.info("dead letter replayed", stream=letter.stream, group=letter.group,
                 dead_letter_id=letter.id, new_entry_id=_text(new_id), event_type=letter.event_type,
                 event_id=letter.event_id)
        return Replayed(dead_letter=letter, new_entry_id=_text(new_id))

    async def replay_all(self) -> list[Replayed]:
        """Replay every dead letter of the group, oldest first; skips any replayed meanwhile."""
        replayed: list[Replayed] = []
        for letter in await self.letters():
            try:
                replayed.append(await self.replay(letter.id, letter.stream))
            except DeadLetterNotFound:
                continue
        return replayed
