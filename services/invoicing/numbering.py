"""Gap-free invoice numbers: one counter row per series, locked and bumped in the invoice's transaction.

The counter row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
already lets one writer at a time in, see ``shared.db``) before anything is
decided, so concurrent instances take numbers one after another. The bump is
part of the same transaction as the invoice: a rollback gives the number
back, so the series has no gaps. ``UNIQUE(series, sequence)`` on the invoice
table is the last guard should anything else go wrong.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from services.invoicing.domain import format_invoice_number, next_sequence
from services.invoicing.models import InvNumberSeries

# Built once: the statements only differ in the series, a bound parameter.
_CREATE = {
    # ON CONFLICT DO NOTHING: two transactions starting a new series do not
    # fail on the primary key; the second waits for the first and sees its row.
    name: dialect.insert(InvNumberSeries).values(series=bindparam("series"), last_sequence=0)
    .on_conflict_do_nothing(index_elements=["series"])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_LOCK = (
    select(InvNumberSeries).where(InvNumberSeries.series == bindparam("series"))
    .with_for_update().execution_options(populate_existing=True)
)
_LOCKED = "invoicing.locked_series"


def lock_series(session: Session, series: str) -> InvNumberSeries:
    """The series' counter, created if new, locked until the transaction ends.

    A consumer handles a whole read batch in one transaction: the counter is
    locked by the batch's first invoice and reused by the others (same
    transaction, same lock), instead of two statements per invoice.
    """
    transaction = session.get_transaction()
    locked: dict[str, Any] = session.info.get(_LOCKED, {})
    if transaction is not None and locked.get("transaction") is transaction and series in locked:
        counter: InvNumberSeries = locked[series]
        return counter
    dialect = session.get_bind().dialect.name
    session.execute(_CREATE["postgresql" if dialect == "postgresql" else "sqlite"], {"series": series})
    counter = session.exec(_LOCK, params={"series": series}).one()
    if transaction is not None:
        if locked.get("transaction") is not transaction:
            locked = {"transaction": transaction}
            session.info[_LOCKED] = locked
        locked[series] = counter
    return counter


def take_number(session: Session, counter: InvNumberSeries) -> tuple[int, str]:
    """Use the next number of a locked series: (sequence, printed number).

    The counter's UPDATE goes out with the session's next flush (at the latest
    at commit), in the same transaction as the invoice that uses the number.
    """
    counter.last_sequence = next_sequence(counter.last_sequence)
    session.add(counter)
    return counter.last_sequence, format_invoice_number(counter.series, counter.last_sequence)
