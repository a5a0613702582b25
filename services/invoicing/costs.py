"""Network costs per year, entered by staff: one amount per (year, network), replaced when entered again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import select

from services.invoicing.payments.handlers import Actor
from services.invoicing.payments.matching import AmountError, parse_amount
from services.invoicing.payments.models import InvNetworkCost
from shared.audit import record_act
from shared.db import transaction
from shared.digits import is_digits
from shared.money import format_sek

FIRST_YEAR, LAST_YEAR = 2000, 2100


class CostError(ValueError):
    """Refused input; the message is shown as it is (Swedish)."""


def parse_year(text: str) -> int:
    text = text.strip()
    if not (is_digits(text) and FIRST_YEAR <= int(text) <= LAST_YEAR):
        raise CostError(f"Året ska vara mellan {FIRST_YEAR} och {LAST_YEAR}.")
    return int(text)


def set_network_cost(engine: Engine, *, year: int, network_code: str, networks: dict[str, str], amount: str,
                     note: str, actor: Actor, now: datetime) -> InvNetworkCost:
    """Store what a network cost in a year (``networks``: the codes one may choose, with names)."""
    if network_code not in networks:
        raise CostError("Välj ett nätverk i listan.")
    try:
        value = parse_amount(amount)
    except AmountError as error:
        raise CostError(str(error)) from error
    note = " ".join(note.split())[:500]
    name = networks[network_code]
    with transaction(engine) as session:
        row = session.exec(select(InvNetworkCost).where(InvNetworkCost.year == year,
                                                        InvNetworkCost.network_code == network_code)
                           .with_for_update()).first()
        before = format_sek(row.amount) if row else "–"
        if row is None:
            row = InvNetworkCost(year=year, network_code=network_code, network_name=name, amount=value,
                                 note=note, updated_by=actor.name, updated_at=now)
        else:
            row.amount, row.note, row.updated_by, row.updated_at = value, note, actor.name, now
        session.add(row)
        record_act(session, actor=actor.name, action="network_cost.set", subject=f"network-costs:{year}",
                   detail=f"{name} {year}: {before} → {format_sek(value)}" + (f" ({note})" if note else ""),
                   remote_addr=actor.remote_addr, at=now)
    return row

