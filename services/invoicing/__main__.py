"""``python -m services.invoicing``: the invoicing service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

from services.invoicing.app import create_app
from services.invoicing.settings import InvoicingSettings
from shared.entrypoint import run_service


def main() -> None:
    run_service("invoicing", InvoicingSettings, create_app)


if __name__ == "__main__":
    main()
