"""Dead letters on the web, the same in every service: a staff page with replay buttons, and JSON.

``GET /dead-letters`` (login) lists the service's dead letters; its forms POST
to ``/dead-letters/{id}/replay`` and ``/dead-letters/replay-all`` with the CSRF
token, then redirect back with what happened. Scripts use
``GET /api/v1/dead-letters`` and ``POST /api/v1/dead-letters/{id}/replay``
(bearer token or login).
"""

# No "from __future__ import annotations": FastAPI resolves the Annotated aliases at runtime.

import zoneinfo
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlmodel import Session

from shared.audit import entries_for
from shared.auth import audit_request
from shared.deadletters import (
    DeadLetter,
    DeadLetterAmbiguous,
    DeadLetterNotFound,
    DeadLetterStore,
    Replayed,
    count_text,
)
from shared.settings import CommonSettings
from shared.web import (
    SHARED_TEMPLATES,
    csrf_token,
    csrf_valid,
    make_templates,
    set_csrf_cookie,
    staff_api,
    staff_page,
)

PAGE = "/dead-letters"
# Replays are the secretariat's work (admin always may); every replay is in the audit log.
AUDIT_SUBJECT = "dead-letters"
EXPIRED = "Formuläret har gått ut. Ladda om sidan och försök igen."


def _swedish_time() -> tzinfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Stockholm")
    except zoneinfo.ZoneInfoNotFoundError:  # no tz database on this machine: show UTC
        return UTC


SWEDISH_TIME = _swedish_time()
StreamQuery = Annotated[str | None, Query(max_length=200, description="the original stream, if ambiguous")]


class DeadLetterList(BaseModel):
    group: str
    dead_letters: list[DeadLetter]


class ReplayedAll(BaseModel):
    replayed: list[Replayed]


def swedish_time(value: datetime) -> str:
    return value.astimezone(SWEDISH_TIME).strftime("%Y-%m-%d %H:%M:%S")


def dead_letters_router(settings: CommonSettings, store: DeadLetterStore,
                        home: tuple[str, str] = ("/", "Start")) -> APIRouter:
    """The page and the API for ``store``'s group; ``home`` is the service's own staff page in the nav."""
    router = APIRouter()
    templates = make_templates(SHARED_TEMPLATES)
    templates.env.filters["swedish_time"] = swedish_time
    PageUser = Annotated[str, Depends(staff_page(settings, "staff"))]
    ApiUser = Annotated[str, Depends(staff_api(settings, "staff"))]

    async def audit(request: Request, user: str, done: list[Replayed]) -> None:
        for replayed in done:
            await audit_request(request, actor=user, action="dead_letter.replay", subject=AUDIT_SUBJECT,
                                detail=f"{replayed.dead_letter.id} på {replayed.dead_letter.stream} "
                                       f"→ {replayed.new_entry_id}")

    def history(request: Request) -> Any:
        with Session(request.app.state.audit_engine) as session:
            return entries_for(session, AUDIT_SUBJECT, limit=50)

    async def render(request: Request, user: str, *, notice: str = "", error: str = "",
                     status: int = 200) -> Response:
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "dead_letters.html", {
            "user": user, "home": home, "group": store.group, "letters": await store.letters(),
            "csrf_token": token, "notice": notice, "error": error,
            "entries": await anyio.to_thread.run_sync(history, request),
        }, status_code=status)
        set_csrf_cookie(response, token, settings)
        return response

    def back(**outcome: str) -> Response:
        return RedirectResponse(f"{PAGE}?{urlencode(outcome)}", status_code=303)

    @router.get(PAGE, include_in_schema=False)
    async def page(request: Request, user: PageUser,
                   replayed: Annotated[int | None, Query(ge=0)] = None,
                   missing: Annotated[str, Query(max_length=40)] = "") -> Response:
        notice = f"Uppspelade: {count_text(replayed)}." if replayed is not None else ""
        error = f"Meddelandet {missing} finns inte längre (redan uppspelat?)." if missing else ""
        return await render(request, user, notice=notice, error=error)

    @router.post(PAGE + "/replay-all", include_in_schema=False)
    async def replay_all_form(request: Request, user: PageUser) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render(request, user, error=EXPIRED, status=400)
        done = await store.replay_all()
        await audit(request, user, done)
        return back(replayed=str(len(done)))

    @router.post(PAGE + "/{dead_letter_id}/replay", include_in_schema=False)
    async def replay_form(dead_letter_id: str, request: Request, user: PageUser) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            return await render(request, user, error=EXPIRED, status=400)
        stream = str(form.get("stream") or "") or None
        try:
            done = await store.replay(dead_letter_id, stream)
        except (DeadLetterNotFound, DeadLetterAmbiguous):
            return back(missing=dead_letter_id[:40])
        await audit(request, user, [done])
        return back(replayed="1")

    @router.get("/api/v1/dead-letters", tags=["operations"])
    async def list_api(_user: ApiUser) -> DeadLetterList:
        """This service's dead letters, oldest first."""
        return DeadLetterList(group=store.group, dead_letters=await store.letters())

    @router.post("/api/v1/dead-letters/replay-all", tags=["operations"])
    async def replay_all_api(request: Request, user: ApiUser) -> ReplayedAll:
        """Publish every dead letter of this service to its stream again."""
        done = await store.replay_all()
        await audit(request, user, done)
        return ReplayedAll(replayed=done)

    @router.post("/api/v1/dead-letters/{dead_letter_id}/replay", tags=["operations"],
                 responses={404: {"description": "no such dead letter (or already replayed)"},
                            409: {"description": "the id is on several streams: pass ?stream="}})
    async def replay_api(dead_letter_id: str, request: Request, user: ApiUser,
                         stream: StreamQuery = None) -> Replayed:
        """Publish the dead letter's original payload to its stream again, and delete it."""
        try:
            done = await store.replay(dead_letter_id, stream)
        except DeadLetterNotFound as missing:
            raise HTTPException(404, f"Inget dött meddelande {missing}") from None
        except DeadLetterAmbiguous as ambiguous:
            raise HTTPException(409, f"{ambiguous} finns på flera strömmar; ange ?stream=") from None
        await audit(request, user, [done])
        return done

    return router
