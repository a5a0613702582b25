"""Wires the invoicing service: runtime (database, Redis, outbox relay), consumer, API and pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlmodel import SQLModel

from services.invoicing.api import api_router
from services.invoicing.api_payments import payments_api_router
from services.invoicing.credit_routes import credit_router
from services.invoicing.credits import make_cancellation_handler
from services.invoicing.handlers import InvoicingContext, make_signup_handler, seller_from
from services.invoicing.models import MODELS
from services.invoicing.overdue import overdue_loop
from services.invoicing.pages import pages_router
from services.invoicing.pages_books import books_router
from services.invoicing.pages_payments import payments_router
from services.invoicing.payments.metrics import unmatched_gauge
from services.invoicing.payments.models import PAYMENT_MODELS
from services.invoicing.pdf import default_renderer, render_invoice_pdf
from services.invoicing.policy_audit import record_policy_changes
from services.invoicing.privacy import invoicing_privacy
from services.invoicing.renewals import make_renewal_handler
from services.invoicing.settings import InvoicingSettings
from shared.clock import clock_from_settings
from shared.deadletters_web import dead_letters_router
from shared.events import REGISTRATION_STREAM
from shared.policy import load_policies
from shared.privacy import privacy_router
from shared.runtime import ServiceRuntime
from shared.web import install_common, service_app

# Every table this service owns (its migrations cover exactly these, plus the common ones).
SERVICE_MODELS: list[type[SQLModel]] = [*MODELS, *PAYMENT_MODELS]


def build_context(settings: InvoicingSettings) -> InvoicingContext:
    """The handlers' dependencies from settings; a broken policy file stops the start here."""
    default_renderer()  # load the fallback fonts once at start, so the first invoice is not the slow one
    return InvoicingContext(
        policies=load_policies(settings.fee_policy_dir),
        seller=seller_from(settings),
        render_pdf=render_invoice_pdf,
        payment_terms_days=settings.payment_terms_days,
        round_to_krona=settings.round_to_krona,
        timezone=ZoneInfo(settings.timezone),
        clock=clock_from_settings(settings.clock_file, settings.environment).now,
    )


def create_app(settings: InvoicingSettings | None = None, context: InvoicingContext | None = None) -> FastAPI:
    settings = settings or InvoicingSettings()
    context = context or build_context(settings)
    runtime = ServiceRuntime("invoicing", settings, settings.database_url, SERVICE_MODELS)
    privacy = invoicing_privacy()
    # notify: publish invoice.issued as soon as the sign-up's transaction commits.
    runtime.consume(REGISTRATION_STREAM, {"signup.completed": make_signup_handler(context),
                                          "memberships.renewed": make_renewal_handler(context),
                                          "membership.cancelled": make_cancellation_handler(context),
                                          "person.erased": privacy.event_handler()},
                    after_commit=runtime.relay.notify)
    # invoice.overdue once a day per unpaid invoice past due; the clock is the handlers' (movable in tests).
    runtime.run_in_background("overdue", overdue_loop(
        runtime.engine, context.clock, context.timezone, settings.overdue_check_seconds,
        after_commit=runtime.relay.notify))
    runtime.extra_metrics.append(unmatched_gauge(runtime.engine))
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            # A policy file added or edited since the last start is an act of finance: audit it.
            await asyncio.to_thread(record_policy_changes, runtime.engine, context.policies, context.clock())
            yield

    app = service_app(title="Reglab Nätverk – fakturering", version="1", lifespan=lifespan)
    app.state.runtime = runtime
    install_common(app, settings, runtime)
    app.include_router(credit_router(settings, runtime, context))
    app.include_router(api_router(settings, runtime.engine))
    app.include_router(payments_api_router(settings, runtime.engine, context.clock))
    app.include_router(pages_router(settings, runtime.engine, context.clock))
    app.include_router(payments_router(settings, runtime.engine, context.clock))
    app.include_router(books_router(settings, runtime.engine, context.clock))
    app.include_router(dead_letters_router(settings, runtime.dead_letters, home=("/", "Fakturor")))
    app.include_router(privacy_router(settings, privacy, runtime.engine))
    return app
