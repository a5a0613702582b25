"""What the meetings pages share: templates, the clock, CSRF cookies, database calls off the loop."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from services.registration.domain import display_org_number
from services.registration.meetings.rules import STOCKHOLM
from services.registration.settings import RegistrationSettings
from shared.clock import Clock, clock_from_settings
from shared.db import transaction
from shared.runtime import ServiceRuntime
from shared.web import csrf_token, make_templates, set_csrf_cookie

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
T = TypeVar("T")
EXPIRED_FORM = "Formuläret har gått ut. Ladda om sidan och försök igen."


def local_time(at: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return str(at.astimezone(STOCKHOLM).strftime(fmt))


WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


def swedish_day(at: Any) -> str:
    local = at.astimezone(STOCKHOLM)
    return f"{WEEKDAYS[local.weekday()]} {local.day}/{local.month} {local.year}"


@dataclass
class MeetingsWeb:
    runtime: ServiceRuntime
    settings: RegistrationSettings
    templates: Jinja2Templates
    clock: Clock

    @classmethod
    def create(cls, runtime: ServiceRuntime, settings: RegistrationSettings) -> MeetingsWeb:
        templates = make_templates(TEMPLATES)
        templates.env.filters["local"] = local_time
        templates.env.filters["day"] = swedish_day
        templates.env.filters["orgnr"] = display_org_number
        return cls(
            runtime, settings, templates, clock_from_settings(settings.clock_file, settings.environment)
        )

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        token = csrf_token(request)
        response = self.templates.TemplateResponse(
            request,
            name,
            {"csrf_token": token, **context},
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
        set_csrf_cookie(response, token, self.settings)
        return response

    async def read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(self.runtime.engine) as session:
                return work(session)

        return await anyio.to_thread.run_sync(run)

    async def write(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with transaction(self.runtime.engine) as session:
                return work(session)

        result = await anyio.to_thread.run_sync(run)
        self.runtime.relay.notify()
        return result


def remote_addr(request: Request) -> str:
    return request.client.host if request.client else ""


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def form_text(form: Any, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""
