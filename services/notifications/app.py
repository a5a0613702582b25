"""Wires the notifications service: consumers on the event streams, the mail sender, and the staff routes."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlmodel import SQLModel

from services.notifications.api import count_by_status, make_router
from services.notifications.handlers import make_handlers
from services.notifications.models import MODELS
from services.notifications.pages import staff_pages_router
from services.notifications.privacy import notifications_privacy
from services.notifications.readmodels import READ_MODELS
from services.notifications.reminders.models import ReminderEntry
from services.notifications.reminders.scheduler import ReminderScheduler
from services.notifications.sender import MailSender
from services.notifications.settings import NotificationsSettings
from shared.clock import clock_from_settings
from shared.consumer import consumer_name
from shared.deadletters_web import dead_letters_router
from shared.events import INVOICING_STREAM, OPERATIONS_STREAM, REGISTRATION_STREAM
from shared.metrics import MAIL_QUEUE
from shared.privacy import privacy_router
from shared.runtime import ServiceRuntime
from shared.web import install_common, service_app

SERVICE = "notifications"
REGISTRATION_EVENTS = ("signup.completed", "meeting.scheduled", "meeting.updated", "meeting.cancelled",
                       "meeting.invitees_changed", "participant.registered", "participant.promoted",
                       "participant.cancelled", "contact.unsubscribed", "network_weeks.set")
INVOICING_EVENTS = ("invoice.issued", "invoice.overdue", "invoice.paid")


# Every table this service owns (its migrations cover exactly these, plus the common ones).
SERVICE_MODELS: list[type[SQLModel]] = [*MODELS, *READ_MODELS, ReminderEntry]


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(SERVICE, settings, settings.database_url, SERVICE_MODELS)
    # One clock for the handlers, the sender and the reminders: tests on real processes move
    # it with REGLAB_CLOCK_FILE, so a reminder's email is due for the sender at the same moment.
    clock = clock_from_settings(settings.clock_file, settings.environment)
    sender = MailSender(runtime.engine, settings, instance=consumer_name(SERVICE), clock=clock.now)
    handlers = make_handlers(settings, clock=clock.now)
    # Each commit of new email rows wakes the sender, so mail leaves without waiting for a poll.
    privacy = notifications_privacy()
    runtime.consume(REGISTRATION_STREAM, {**{name: handlers[name] for name in REGISTRATION_EVENTS},
                                          "person.erased": privacy.event_handler()},
                    after_commit=sender.wake)
    runtime.consume(INVOICING_STREAM, {name: handlers[name] for name in INVOICING_EVENTS},
                    after_commit=sender.wake)
    # Staff hear of every dead letter, from any service (see shared/deadletters.py).
    runtime.consume(OPERATIONS_STREAM, {"dead_letter.recorded": handlers["dead_letter.recorded"]},
                    after_commit=sender.wake)
    runtime.run_in_background("mail-sender", sender.run)
    scheduler = ReminderScheduler(runtime.engine, settings, clock=clock, wake=sender.wake)
    runtime.run_in_background("reminder-scheduler", scheduler.run)

    async def mail_queue_gauge() -> None:
        counts = await asyncio.to_thread(count_by_status, runtime.engine)
        for status, count in counts.items():
            MAIL_QUEUE.labels(status).set(count)

    runtime.extra_metrics.append(mail_queue_gauge)

    app = service_app(title="Reglab Nätverk – e-post", version="1", lifespan=runtime.lifespan)
    install_common(app, settings, runtime)
    app.include_router(make_router(settings, runtime.engine, wake=sender.wake))
    app.include_router(staff_pages_router(settings, runtime.engine))
    app.include_router(dead_letters_router(settings, runtime.dead_letters, home=("/", "E-postlogg")))
    app.include_router(privacy_router(settings, privacy, runtime.engine))
    app.state.runtime = runtime
    app.state.sender = sender
    app.state.scheduler = scheduler
    return app
