"""Builds the registration app: runtime (database, Redis, outbox relay), seed data and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from sqlmodel import SQLModel

from services.registration.api import api_router
from services.registration.catalogue import NETWORKS
from services.registration.handlers import seed
from services.registration.lifecycle_models import LIFECYCLE_MODELS
from services.registration.meetings.routes import MEETING_MODELS, install_meetings, sync_contacts_at_start
from services.registration.membership_routes import membership_router
from services.registration.models import MODELS
from services.registration.pages import pages_router
from services.registration.privacy import registration_privacy
from services.registration.privacy_web import privacy_pages_router
from services.registration.renewal_routes import renewal_router
from services.registration.settings import RegistrationSettings
from shared.deadletters_web import dead_letters_router
from shared.policy import load_policies
from shared.privacy import privacy_router
from shared.runtime import ServiceRuntime
from shared.web import install_common, service_app

# Every table this service owns (its migrations cover exactly these, plus the common ones).
SERVICE_MODELS: list[type[SQLModel]] = [*MODELS, *LIFECYCLE_MODELS, *MEETING_MODELS]


def create_app(settings: RegistrationSettings | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()
    # Loaded once: a broken policy file stops the start with a message naming the file.
    # An exemption naming a network the catalogue does not have is refused too.
    policies = load_policies(settings.fee_policy_dir, network_codes={n.code for n in NETWORKS})
    runtime = ServiceRuntime("registration", settings, settings.database_url, SERVICE_MODELS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            # The runtime creates the tables; the networks must exist before the form is served.
            await anyio.to_thread.run_sync(seed, runtime.engine)
            await anyio.to_thread.run_sync(sync_contacts_at_start, runtime.engine)
            yield

    app = service_app(title="Reglab Nätverk – anmälan", version="1.0.0", lifespan=lifespan,
                      description="Anmälan av organisationer till Reglabs nätverk.")
    app.state.runtime = runtime
    app.state.policies = policies
    install_common(app, settings, runtime)
    app.include_router(api_router(runtime, policies))
    app.include_router(pages_router(runtime, policies, settings))
    app.include_router(membership_router(runtime, settings))
    app.include_router(renewal_router(runtime, policies, settings))
    install_meetings(app, runtime, settings, policies)
    app.include_router(dead_letters_router(settings, runtime.dead_letters,
                                           home=("/staff/signups", "Anmälningar")))
    # GDPR: each table with personal data registers its export and eraser (see shared/privacy.py).
    privacy = registration_privacy()
    app.state.privacy = privacy
    app.include_router(privacy_router(settings, privacy, runtime.engine))
    app.include_router(privacy_pages_router(runtime, privacy, settings))
    return app
