"""``python -m services.<name>``: one way to start a service, or run its operator commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from shared.deadletters_cli import dispatch
from shared.logs import configure_logging
from shared.settings import CommonSettings

# Seconds uvicorn waits for in-flight requests after SIGTERM, before the lifespan
# shutdown (stop consuming, finish the handler in flight, stop the relay).
GRACEFUL_SHUTDOWN_SECONDS = 20

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def run_service(service: str, load_settings: Callable[[], SettingsT],
                create_app: Callable[[SettingsT], FastAPI]) -> None:
    dispatch(service, sys.argv)  # `dead-letters ...`: the operator's command, then exit
    settings = load_settings()
    configure_logging(service, fmt=settings.log_format, level=settings.log_level)
    host: str = getattr(settings, "host", "127.0.0.1")
    port: int = getattr(settings, "port", 8000)
    # log_config=None keeps the logging configured above instead of uvicorn's own.
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
