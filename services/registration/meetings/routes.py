"""Wiring: the meetings tables, routers and start-up work, for ``services.registration.app``."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from services.registration.meetings.api import meetings_api_router
from services.registration.meetings.contacts import sync_contacts
from services.registration.meetings.models import MEETING_MODELS
from services.registration.meetings.public import public_router
from services.registration.meetings.staff_contacts import contacts_router
from services.registration.meetings.staff_meetings import meetings_router
from services.registration.meetings.staff_overview import overview_router
from services.registration.meetings.web import MeetingsWeb
from services.registration.settings import RegistrationSettings
from shared.db import transaction
from shared.events import utc_now
from shared.policy import FeePolicy
from shared.runtime import ServiceRuntime

__all__ = ["MEETING_MODELS", "install_meetings", "sync_contacts_at_start"]


def install_meetings(
    app: FastAPI, runtime: ServiceRuntime, settings: RegistrationSettings, policies: dict[int, FeePolicy]
) -> None:
    web = MeetingsWeb.create(runtime, settings)
    app.include_router(meetings_api_router(web))
    app.include_router(public_router(web))
    app.include_router(overview_router(web, policies))
    app.include_router(meetings_router(web))
    app.include_router(contacts_router(web))


def sync_contacts_at_start(engine: Engine, attempts: int = 3) -> None:
    """Sign-ups made before contacts existed (or while none was read) get their contacts now.

    Two instances starting together on a fresh database may both create the lock row;
    the loser retries and then waits on the winner's lock.
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction(engine) as session:
                sync_contacts(session, utc_now())
            return
        except IntegrityError:
            if attempt == attempts:
                raise
