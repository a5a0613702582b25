"""Write the next migration of a service from the difference between its models and its migrations.

``.venv/bin/python -m devtools.makemigration invoicing "add payments"`` upgrades
a scratch SQLite database to the newest revision, compares it with the models
and writes ``services/invoicing/migrations/versions/NNNN_add_payments.py``.
Read the file before committing it: autogenerate misses renames and data moves.
"""

from __future__ import annotations

import argparse
import importlib
import re
import tempfile
from pathlib import Path

from alembic import command

from shared.db import make_engine
from shared.migrations import COMMON_MODELS, alembic_config, migrate, script_location


def service_tables(service: str) -> set[str]:
    """A service runtime's tables: its models and the common ones (outbox, processed events, audit)."""
    module = importlib.import_module(f"services.{service}.app")
    return {model.__table__.name for model in [*module.SERVICE_MODELS, *COMMON_MODELS]}


def next_revision_id(service: str) -> str:
    numbers = [int(m.group(1)) for p in (script_location(service) / "versions").glob("*.py")
               if (m := re.match(r"(\d{4})_", p.name))]
    return f"{max(numbers, default=0) + 1:04d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", choices=["registration", "invoicing", "notifications"])
    parser.add_argument("message")
    args = parser.parse_args()
    tables = service_tables(args.service)
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        migrate(engine, args.service, tables)
        with engine.begin() as connection:
            config = alembic_config(args.service, tables, connection)
            slug = re.sub(r"[^a-z0-9]+", "_", args.message.lower()).strip("_")[:40]
            command.revision(config, message=args.message, autogenerate=True,
                             rev_id=next_revision_id(args.service), head="head")
            print(f"written: services/{args.service}/migrations/versions/ ({slug})")
        engine.dispose()


if __name__ == "__main__":
    main()
