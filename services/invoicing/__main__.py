"""``python -m services.invoicing``: the invoicing service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

import sys

import uvicorn

from services.invoicing.app import create_app
from services.invoicing.settings import InvoicingSettings
from shared.deadletters_cli import dispatch
from shared.logs import configure_logging


def main() -> None:
    dispatch("invoicing", sys.argv)  # `dead-letters ...`: the operator's command, then exit
    settings = InvoicingSettings()
    configure_logging("invoicing", fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
