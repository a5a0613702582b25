"""Invoice numbers under concurrency: many writers, some rolling back, still no gaps and no duplicates."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from services.invoicing.models import MODELS
from services.invoicing.numbering import lock_series, take_number
from shared.db import create_tables, make_engine, transaction


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_tables(engine, MODELS)
    yield engine
    engine.dispose()


def test_concurrent_transactions_take_consecutive_numbers_and_rollbacks_leave_no_gap(engine: Engine) -> None:
    committed: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        try:
            start.wait()
            for attempt in range(6):
                try:
                    with transaction(engine) as session:
                        # A brand-new series for everyone at once: its counter row is created once.
                        _sequence, number = take_number(session, lock_series(session, "2031"))
                        if (index + attempt) % 3 == 0:
                            raise RuntimeError("this invoice fails after taking its number")
                    with lock:
                        committed.append(number)
                except RuntimeError:
                    pass
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert all(not thread.is_alive() for thread in threads)

    expected = sum(1 for i in range(8) for a in range(6) if (i + a) % 3 != 0)
    assert sorted(committed) == [f"2031-{n:05d}" for n in range(1, expected + 1)]
