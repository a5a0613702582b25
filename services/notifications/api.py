"""Staff routes: the email log as a page behind the login, and as JSON for scripts."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from services.notifications.domain import EmailKind, EmailStatus
from services.notifications.models import Email
from services.notifications.settings import NotificationsSettings
from shared.web import make_templates, staff_api, staff_page

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 100

table = Email.__table__  # type: ignore[attr-defined]

STATUS_LABELS = {"queued": "Köad", "sent": "Skickad", "failed": "Misslyckad"}
KIND_LABELS = {
    EmailKind.signup_confirmation.value: "Bekräftelse av anmälan",
    EmailKind.invoice.value: "Faktura",
    EmailKind.invoice_copy.value: "Fakturakopia till ekonomi",
}


def _stockholm() -> tzinfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Stockholm")
    except zoneinfo.ZoneInfoNotFoundError:  # no tz database on this machine: show UTC
        return UTC


LOCAL_TZ = _stockholm()

StatusQuery = Annotated[EmailStatus | None, Query(description="queued, sent or failed")]
BeforeQuery = Annotated[int | None, Query(description="only emails with a smaller id (older; for paging)")]
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


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def make_router(settings: NotificationsSettings, engine: Engine) -> APIRouter:
    router = APIRouter()
    templates = make_templates(TEMPLATES)
    templates.env.filters["local"] = _local
    page_user = Depends(staff_page(settings))
    api_user = Depends(staff_api(settings))

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    @router.get("/emails", response_class=HTMLResponse, include_in_schema=False)
    def email_log_page(request: Request, status: StatusQuery = None, before: BeforeQuery = None,
                       user: str = page_user) -> Any:
        log = list_emails(engine, status=status, before=before, limit=PAGE_SIZE)
        return templates.TemplateResponse(request, "emails.html", {
            "user": user,
            "log": log,
            "selected": status.value if status else "",
            "total": sum(log.counts.values()),
            "status_labels": STATUS_LABELS,
            "kind_labels": KIND_LABELS,
        })

    @router.get("/api/v1/emails", tags=["emails"])
    def email_log_api(status: StatusQuery = None, before: BeforeQuery = None,
                      limit: LimitQuery = PAGE_SIZE,
                      _user: str = api_user) -> EmailLog:
        return list_emails(engine, status=status, before=before, limit=limit)

    return router
