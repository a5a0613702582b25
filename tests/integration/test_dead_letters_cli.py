"""``python -m services.<name> dead-letters``: run as an operator would, in a subprocess, on a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from redis.asyncio import Redis

from shared.deadletters import dead_letter_stream
from shared.events import REGISTRATION_STREAM
from tests.integration.test_dead_letters import dead_letter_for
from tests.support.servers import RedisServer, free_port
from tests.support.streams import read_events

ROOT = Path(__file__).resolve().parents[2]


def dead_letters(redis_url: str, service: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url}
    return subprocess.run([sys.executable, "-m", f"services.{service}", "dead-letters", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def seed(redis_url: str, *letters: tuple[str, int]) -> list[str]:
    async def go() -> list[str]:
        redis = Redis.from_url(redis_url)
        try:
            return [await dead_letter_for(redis, group, signup_id) for group, signup_id in letters]
        finally:
            await redis.aclose()

    return asyncio.run(go())


def test_list_shows_the_services_dead_letters_with_their_error_and_event(redis_server: RedisServer) -> None:
    mine, _theirs = seed(redis_server.url, ("invoicing", 1), ("notifications", 2))

    result = dead_letters(redis_server.url, "invoicing", "list")
    assert result.returncode == 0, result.stderr
    assert "1 dött meddelande för invoicing" in result.stdout
    assert mine in result.stdout and "reglab.registration" in result.stdout
    assert "signup.completed" in result.stdout and "no fee policy for 2018" in result.stdout

    as_json = dead_letters(redis_server.url, "invoicing", "list", "--json")
    [line] = as_json.stdout.splitlines()
    assert json.loads(line)["id"] == mine and json.loads(line)["group"] == "invoicing"

    empty = dead_letters(redis_server.url, "registration", "list")
    assert empty.returncode == 0 and "Inga döda meddelanden för registration" in empty.stdout


def test_replay_publishes_the_entry_again_once_and_a_second_replay_exits_1(redis_server: RedisServer) -> None:
    [letter] = seed(redis_server.url, ("invoicing", 3))

    first = dead_letters(redis_server.url, "invoicing", "replay", letter)
    assert first.returncode == 0, first.stderr
    assert f"Uppspelat: {letter} publicerat på reglab.registration" in first.stdout
    assert [e.signup_id for e in read_events(redis_server.url, REGISTRATION_STREAM)] == [3]

    again = dead_letters(redis_server.url, "invoicing", "replay", letter)
    assert again.returncode == 1
    assert "redan uppspelat" in again.stderr
    assert len(read_events(redis_server.url, REGISTRATION_STREAM)) == 1


def test_replay_all_replays_only_this_services_dead_letters(redis_server: RedisServer) -> None:
    seed(redis_server.url, ("notifications", 4), ("notifications", 5), ("invoicing", 6))

    result = dead_letters(redis_server.url, "notifications", "replay-all")
    assert result.returncode == 0, result.stderr
    assert "Uppspelade för notifications: 2 döda meddelanden." in result.stdout
    assert sorted(e.signup_id for e in read_events(redis_server.url, REGISTRATION_STREAM)) == [4, 5]

    async def left() -> int:
        redis = Redis.from_url(redis_server.url)
        try:
            return int(await redis.xlen(dead_letter_stream(REGISTRATION_STREAM)))
        finally:
            await redis.aclose()

    assert asyncio.run(left()) == 1, "invoicing's dead letter stays"


def test_bad_usage_exits_2_and_an_unreachable_redis_exits_3() -> None:
    assert dead_letters("redis://127.0.0.1:1/0", "invoicing", "frobnicate").returncode == 2
    assert dead_letters("redis://127.0.0.1:1/0", "invoicing", "replay").returncode == 2
    unreachable = dead_letters(f"redis://127.0.0.1:{free_port()}/0", "invoicing", "list")
    assert unreachable.returncode == 3
    assert "Når inte Redis" in unreachable.stderr
