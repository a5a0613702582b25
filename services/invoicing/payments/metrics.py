"""``/metrics`` for money received: payments waiting to be matched, and invoices overdue today."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from services.invoicing.payments.models import InvPayment
from shared.metrics import REGISTRY

UNMATCHED_PAYMENTS = Gauge("reglab_unmatched_payments", "Payments waiting for finance to match them",
                           registry=REGISTRY)


def count_unmatched(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(InvPayment)
                                .where(col(InvPayment.invoice_id).is_(None))).one())


def unmatched_gauge(engine: Engine) -> Callable[[], Coroutine[Any, Any, None]]:
    async def collect() -> None:
        UNMATCHED_PAYMENTS.set(await asyncio.to_thread(count_unmatched, engine))

    return collect
