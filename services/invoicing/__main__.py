"""``python -m services.invoicing``: the invoicing service; ``... dead-letters`` for its dead letters;
``... overdue [--as-of YYYY-MM-DD]`` to publish the day's overdue notices now."""

from __future__ import annotations

import sys

from services.invoicing.app import create_app
from services.invoicing.settings import InvoicingSettings
from shared.entrypoint import run_service


def main() -> None:
    if sys.argv[1:2] == ["overdue"]:
        from services.invoicing.overdue_cli import main as overdue

        raise SystemExit(overdue(sys.argv[2:]))
    run_service("invoicing", InvoicingSettings, create_app)


if __name__ == "__main__":
    main()
