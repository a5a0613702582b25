"""Dead letters without Redis: reading an entry, what a replay publishes, the event staff hear of."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from shared import wire
from shared.deadletters import parse_entry, recorded_event, replay_data
from shared.events import REGISTRATION_STREAM, parse_event
from tests.support.notifications import signup_event

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EVENT = signup_event()


def faststream_payload() -> bytes:
    return asyncio.run(wire.encode(EVENT.model_dump_json(), message_id=str(EVENT.event_id),
                                   correlation_id="corr-header"))


def fields(payload: bytes) -> dict[bytes, bytes]:
    return {b"stream": REGISTRATION_STREAM.encode(), b"group": b"invoicing", b"entry_id": b"17-0",
            b"error": b"ValueError: no policy", b"payload": payload,
            b"failed_at": NOW.isoformat().encode()}


def test_an_entry_is_read_with_the_event_type_and_id_its_payload_carries() -> None:
    letter = parse_entry(b"100-1", fields(faststream_payload()))
    event = EVENT
    assert (letter.id, letter.stream, letter.group, letter.entry_id) == ("100-1", REGISTRATION_STREAM,
                                                                         "invoicing", "17-0")
    assert letter.event_type == "signup.completed" and letter.event_id == str(event.event_id)
    assert letter.correlation_id == event.correlation_id
    assert letter.failed_at == NOW and letter.error == "ValueError: no policy"


def test_an_unreadable_payload_still_lists_with_empty_event_fields() -> None:
    letter = parse_entry("100-2", {**fields(b"\x00garbage"), b"failed_at": b"yesterday"})
    assert (letter.event_type, letter.event_id, letter.failed_at) == ("", "", None)
    assert "payload" not in letter.model_dump()


def test_a_replay_publishes_a_stored_faststream_message_byte_for_byte() -> None:
    payload = faststream_payload()
    assert asyncio.run(replay_data(parse_entry("1-0", fields(payload)))) == payload


def test_a_bare_json_body_is_wrapped_with_the_event_id_as_message_id() -> None:
    event = EVENT
    data = asyncio.run(replay_data(parse_entry("1-0", fields(event.model_dump_json().encode()))))
    body, headers = wire.decode(data)
    assert wire.is_faststream(data) and parse_event(body) == event
    assert headers["message_id"] == str(event.event_id)


def test_the_same_entry_dead_lettered_twice_gives_one_event_id() -> None:
    def event(group: str, entry_id: str, dead_letter_id: str) -> str:
        return str(recorded_event(dead_letter_id=dead_letter_id, stream=REGISTRATION_STREAM, group=group,
                                  entry_id=entry_id, error="x", payload=faststream_payload(),
                                  now=NOW).event_id)

    assert event("invoicing", "17-0", "100-1") == event("invoicing", "17-0", "100-9")
    assert event("invoicing", "17-0", "100-1") != event("notifications", "17-0", "100-1")
    assert event("invoicing", "17-0", "100-1") != event("invoicing", "18-0", "100-1")


def test_the_event_carries_the_failed_events_correlation_id_or_else_the_entry() -> None:
    readable = recorded_event(dead_letter_id="1-0", stream=REGISTRATION_STREAM, group="invoicing",
                              entry_id="17-0", error="x" * 5000, payload=faststream_payload(), now=NOW)
    assert readable.correlation_id == EVENT.correlation_id
    assert readable.event_type == "signup.completed" and len(readable.error) == 2000
    unreadable = recorded_event(dead_letter_id="1-0", stream=REGISTRATION_STREAM, group="invoicing",
                                entry_id="17-0", error="x", payload=b"", now=NOW)
    assert unreadable.correlation_id == "dead-letter-17-0" and unreadable.event_type == ""
