"""``python -m services.registration``: the sign-up service; ``... dead-letters`` for its dead letters."""

from __future__ import annotations

import sys

import uvicorn

from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared.deadletters_cli import dispatch
from shared.logs import configure_logging


def main() -> None:
    dispatch("registration", sys.argv)  # `dead-letters ...`: the operator's command, then exit
    settings = RegistrationSettings()
    configure_logging("registration", fmt=settings.log_format, level=settings.log_level)
    # uvicorn stops on SIGTERM/SIGINT after finishing in-flight requests, then runs the lifespan's exit.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
