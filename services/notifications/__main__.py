"""``python -m services.notifications``: the service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

import sys

import uvicorn

from services.notifications.app import SERVICE, create_app
from services.notifications.settings import NotificationsSettings
from shared.deadletters_cli import dispatch
from shared.logs import configure_logging


def main() -> None:
    dispatch(SERVICE, sys.argv)  # `dead-letters ...`: the operator's command, then exit
    settings = NotificationsSettings()
    configure_logging(SERVICE, fmt=settings.log_format, level=settings.log_level)
    # log_config=None: keep the logging configured above instead of uvicorn's own.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
