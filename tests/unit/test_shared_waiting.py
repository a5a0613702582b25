"""wait_or_timeout: a shutdown that arrives just as a loop is woken still stops the loop."""

from __future__ import annotations

import asyncio

from shared.waiting import wait_or_timeout


async def woken_loop(event: asyncio.Event) -> None:
    while True:
        await wait_or_timeout(event, 60)
        event.clear()


async def test_a_cancel_that_arrives_as_the_event_is_set_stops_the_loop() -> None:
    # On Python 3.11, asyncio.wait_for returned the event's result here and the loop ran on.
    event = asyncio.Event()
    task = asyncio.create_task(woken_loop(event))
    await asyncio.sleep(0.01)  # parked in event.wait()
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled()


async def test_it_returns_when_the_event_is_set_or_the_time_is_up() -> None:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_or_timeout(event, 0.05)
    assert loop.time() - started >= 0.05
    event.set()
    await asyncio.wait_for(wait_or_timeout(event, 60), timeout=1)
