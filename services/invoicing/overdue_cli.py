"""``python -m services.invoicing overdue [--as-of YYYY-MM-DD]``: publish today's overdue notices now.

Writes the notices and their ``invoice.overdue`` events to the outbox; the
running service's relay publishes them. Running it twice on a day, or beside
the service's own daily loop, publishes nothing twice.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from zoneinfo import ZoneInfo

from services.invoicing.overdue import publish_overdue
from services.invoicing.settings import InvoicingSettings
from shared.clock import clock_from_settings
from shared.db import make_engine
from shared.migrations import migrate_service


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.invoicing overdue",
                                     description="Publicera invoice.overdue för förfallna obetalda fakturor.")
    parser.add_argument("--as-of", dest="as_of", help="dagen att räkna från, ÅÅÅÅ-MM-DD (standard: idag)")
    args = parser.parse_args(argv)
    settings = InvoicingSettings()
    now = clock_from_settings(settings.clock_file, settings.environment).now()
    try:
        as_of = (date.fromisoformat(args.as_of) if args.as_of
                 else now.astimezone(ZoneInfo(settings.timezone)).date())
    except ValueError:
        print("--as-of ska skrivas ÅÅÅÅ-MM-DD, t.ex. 2018-03-01.", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        from services.invoicing.app import SERVICE_MODELS  # the app's tables, not just the overdue ones

        migrate_service(engine, "invoicing", SERVICE_MODELS)
        published = publish_overdue(engine, as_of, now)
    finally:
        engine.dispose()
    for number in published:
        print(f"förfallen: {number}")
    print(f"{len(published)} fakturor förfallna per {as_of.isoformat()} (invoice.overdue i utkorgen).")
    return 0
