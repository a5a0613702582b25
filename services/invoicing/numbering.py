"""Gap-free invoice numbers: one counter row per series, locked and bumped in the invoice's transaction.

The counter row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
already lets one writer at a time in, see ``shared.db``) before anything is
decided, so concurrent instances take numbers one after another. The bump is
part of the same transaction as the invoice: a rollback gives the number
back, so the series has no gaps. ``UNIQUE(series, sequence)`` on the invoice
table is the last guard should anything else go wrong.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from services.invoicing.domain import format_invoice_number, next_sequence
from services.invoicing.models import InvNumberSeries


def lock_series(session: Session, series: str) -> InvNumberSeries:
    """The series' counter, created if new, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING: two transactions starting a new series do not
    # fail on the primary key; the second waits for the first and sees its row.
    session.execute(
        insert(InvNumberSeries).values(series=series, last_sequence=0)
        .on_conflict_do_nothing(index_elements=["series"])
    )
    query = (
        select(InvNumberSeries).where(InvNumberSeries.series == series)
        .with_for_update().execution_options(populate_existing=True)
    )
    return session.exec(query).one()


def take_number(session: Session, counter: InvNumberSeries) -> tuple[int, str]:
    """Use the next number of a locked series: (sequence, printed number)."""
    counter.last_sequence = next_sequence(counter.last_sequence)
    session.add(counter)
    session.flush()
    return counter.last_sequence, format_invoice_number(counter.series, counter.last_sequence)
