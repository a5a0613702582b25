"""Staff routes: the email log as a page behind the login, and as JSON; a failed email can be sent again."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy import Engine, func, select, update

from services.notifications.alerts import KIND_LABELS
from services.notifications.domain import EmailStatus
from services.notifications.models import Email
from services.notifications.settings import NotificationsSettings
from shared.audit import record_act
from shared.auth import client_address
from shared.db import transaction
from shared.events import utc_now
from shared.web import (
    MAX_ROW_ID,
    RowId,
    csrf_token,
    csrf_valid,
    make_templates,
    set_csrf_cookie,
    staff_api,
    staff_page,
)

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 100

table = Email.__table__  # type: ignore[attr-defined]

STATUS_LABELS = {"queued": "Köad", "sent": "Skickad", "failed": "Misslyckad"}


def _stockholm() -> tzinfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Stockholm")
    except zoneinfo.ZoneInfoNotFoundError:  # no tz database on this machine: show UTC
        return UTC


LOCAL_TZ = _stockholm()

StatusQuery = Annotated[EmailStatus | None, Query(description="queued, sent or failed")]
BeforeQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID,
                                          description="only emails with a smaller id (older; for paging)")]
LimitQuery = Annotated[int, Query(ge=1, le=1000)]


class EmailPublic(BaseModel):
    id: int
    kind: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    source_event_id: str
    source_event_type: str
    correlation_id: str
    message_id: str


class EmailLog(BaseModel):
    counts: dict[str, int]
    emails: list[EmailPublic]
    # Pass as ``before`` to read the next (older) page; null on the last page.
    next_before: int | None


def count_by_status(engine: Engine) -> dict[str, int]:
    counts = {status.value: 0 for status in EmailStatus}
    with engine.connect() as connection:
        for status, count in connection.execute(
            select(table.c.status, func.count()).group_by(table.c.status)
        ):
            counts[status] = int(count)
    return counts


def list_emails(engine: Engine, *, status: EmailStatus | None, before: int | None,
                limit: int) -> EmailLog:
    """Newest first; every column but the message bytes."""
    columns = [table.c[name] for name in EmailPublic.model_fields]
    query = select(*columns).order_by(table.c.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(table.c.status == status.value)
    if before is not None:
        query = query.where(table.c.id < before)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    emails = [EmailPublic.model_validate(dict(row)) for row in rows[:limit]]
    for email in emails:
        if email.status != EmailStatus.queued.value:
            email.next_attempt_at = None  # only meaningful while queued
    next_before = emails[-1].id if len(rows) > limit and emails else None
    return EmailLog(counts=count_by_status(engine), emails=emails, next_before=next_before)


def send_again(engine: Engine, email_id: int, now: datetime, *, actor: str, remote_addr: str) -> bool:
    """A failed email back to ``queued``, due now, with a fresh series of attempts; audited.

    Only a failed email that has a message (one that could not even be built
    has none); the previous error stays until the next attempt's outcome.
    """
    with transaction(engine) as session:
        result = session.connection().execute(
            update(table)
            .where(table.c.id == email_id, table.c.status == EmailStatus.failed.value,
                   table.c.message_id != "")
            .values(status=EmailStatus.queued.value, attempts=0, next_attempt_at=now, claimed_by=None)
        )
        queued = bool(result.rowcount == 1)
        if queued:
            record_act(session, actor=actor, action="email.send_again", subject=f"email:{email_id}",
                       remote_addr=remote_addr, at=now)
    return queued


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def make_router(settings: NotificationsSettings, engine: Engine,
                wake: Callable[[], None] = lambda: None) -> APIRouter:
    """The log's routes; ``wake`` tells the sender an email was queued again."""
    router = APIRouter()
    templates = make_templates(TEMPLATES)
    templates.env.filters["local"] = _local
    page_user = Depends(staff_page(settings, "staff"))
    api_user = Depends(staff_api(settings, "staff"))

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    @router.get("/emails", response_class=HTMLResponse, include_in_schema=False)
    def email_log_page(request: Request, status: StatusQuery = None, before: BeforeQuery = None,
                       user: str = page_user) -> Any:
        log = list_emails(engine, status=status, before=before, limit=PAGE_SIZE)
        token = csrf_token(request)
        response = templates.TemplateResponse(request, "emails.html", {
            "user": user,
            "log": log,
            "selected": status.value if status else "",
            "total": sum(log.counts.values()),
            "status_labels": STATUS_LABELS,
            "kind_labels": KIND_LABELS,
            "csrf_token": token,
        })
        set_csrf_cookie(response, token, settings)
        return response

    @router.post("/emails/{email_id}/send-again", include_in_schema=False)
    async def send_again_form(email_id: RowId, request: Request, user: str = page_user) -> Response:
        form = await request.form()
        if not csrf_valid(request, str(form.get("csrf_token") or "")):
            raise HTTPException(400, "Formuläret har gått ut. Ladda om sidan och försök igen.")
        if send_again(engine, email_id, utc_now(), actor=user, remote_addr=client_address(request)):
            wake()
        return RedirectResponse("/?status=queued", status_code=303)

    @router.post("/api/v1/emails/{email_id}/send-again", tags=["emails"],
                 responses={409: {"description": "the email is not failed, or has no message to send"}})
    def send_again_api(email_id: RowId, request: Request, user: str = api_user) -> dict[str, str]:
        """Queue a failed email again (a fresh series of attempts)."""
        if not send_again(engine, email_id, utc_now(), actor=user, remote_addr=client_address(request)):
            raise HTTPException(409, "Bara misslyckad e-post med ett meddelande kan skickas igen")
        wake()
        return {"status": EmailStatus.queued.value}

    @router.get("/api/v1/emails", tags=["emails"])
    def email_log_api(status: StatusQuery = None, before: BeforeQuery = None,
                      limit: LimitQuery = PAGE_SIZE,
                      _user: str = api_user) -> EmailLog:
        return list_emails(engine, status=status, before=before, limit=limit)

    return router
