"""``python -m services.invoicing``: the invoicing service on INVOICING_HOST:INVOICING_PORT."""

from __future__ import annotations

import uvicorn

from services.invoicing.app import create_app
from services.invoicing.settings import InvoicingSettings
from shared.logs import configure_logging


def main() -> None:
    settings = InvoicingSettings()
    configure_logging("invoicing", fmt=settings.log_format, level=settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
