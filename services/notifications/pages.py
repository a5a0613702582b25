"""Staff pages: the reminder ledger (/reminders) and previews of every email template (/templates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine, func, or_, select

from services.notifications import previews, timefmt
from services.notifications.meetings import Links
from services.notifications.readmodels import InviteeView, MeetingView, ParticipantView
from services.notifications.reminders.models import LedgerStatus, ReminderEntry
from services.notifications.reminders.rules import RULES, RULES_BY_NAME
from services.notifications.settings import NotificationsSettings
from shared.web import make_templates, staff_api, staff_page

TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 200
PREVIEW_SECRET = "preview-only-links-do-not-verify"
ledger = ReminderEntry.__table__  # type: ignore[attr-defined]

LEDGER_STATUS_LABELS = {"pending": "Väntar", "queued": "Köad som e-post", "skipped": "Hoppades över"}

RuleQuery = Annotated[str | None, Query(description="a rule's name, e.g. meeting_7d")]
LedgerStatusQuery = Annotated[LedgerStatus | None, Query(description="pending, queued or skipped")]
SourceQuery = Annotated[str | None, Query(description="a source key, e.g. meeting:12 or invoice:2026-00001")]


class LedgerRow(BaseModel):
    id: int
    rule: str
    source_key: str
    recipient: str
    recipient_name: str
    ref: str
    subject: str
    due_at: datetime
    status: str
    email_id: int | None
    note: str
    created_at: datetime
    handled_at: datetime | None


class Ledger(BaseModel):
    counts: dict[str, int]
    rows: list[LedgerRow]


def read_ledger(
    engine: Engine,
    *,
    rule: str | None,
    status: LedgerStatus | None,
    source: str | None,
    limit: int = PAGE_SIZE,
) -> Ledger:
    """Newest due first, filtered by rule, status and source key."""
    query = (
        select(*(ledger.c[name] for name in LedgerRow.model_fields))
        .order_by(ledger.c.due_at.desc(), ledger.c.id.desc())
        .limit(limit)
    )
    counting = select(ledger.c.status, func.count()).group_by(ledger.c.status)
    conditions = []
    if rule:
        conditions.append(ledger.c.rule == rule)
    if source:
        # "meeting:12" also finds the meeting's rows keyed by its time ("meeting:12@20270316T0900Z").
        conditions.append(or_(ledger.c.source_key == source, ledger.c.source_key.like(f"{source}@%")))
    for condition in conditions:
        query = query.where(condition)
        counting = counting.where(condition)
    if status is not None:
        query = query.where(ledger.c.status == status.value)
    with engine.connect() as connection:
        rows = [LedgerRow.model_validate(dict(row)) for row in connection.execute(query).mappings()]
        counts = {s.value: 0 for s in LedgerStatus}
        counts.update({str(s): int(n) for s, n in connection.execute(counting).all()})
    return Ledger(counts=counts, rows=rows)


@dataclass(frozen=True)
class MeetingState:
    """A meeting as notifications knows it, and where its reminders stand."""

    meeting_id: int
    title: str
    network: str
    starts_at: datetime
    registration_deadline: str
    cancelled: bool
    invitees: int
    registered: int
    waiting: int
    # (rule, status) → count of ledger rows for this meeting.
    ledger: dict[tuple[str, str], int]


def meeting_states(engine: Engine, limit: int = PAGE_SIZE) -> list[MeetingState]:
    """Newest first: each meeting's people and its ledger rows by rule and status."""
    meeting = MeetingView.__table__  # type: ignore[attr-defined]
    invitee = InviteeView.__table__  # type: ignore[attr-defined]
    participant = ParticipantView.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(meeting).order_by(meeting.c.starts_at.desc()).limit(limit)).all()
        ids = [row.meeting_id for row in rows]
        invited: dict[int, int] = (
            {
                int(m): int(n)
                for m, n in connection.execute(
                    select(invitee.c.meeting_id, func.count())
                    .where(invitee.c.meeting_id.in_(ids))
                    .group_by(invitee.c.meeting_id)
                ).all()
            }
            if ids
            else {}
        )
        people: dict[tuple[int, str], int] = (
            {
                (m, s): n
                for m, s, n in connection.execute(
                    select(participant.c.meeting_id, participant.c.status, func.count())
                    .where(participant.c.meeting_id.in_(ids))
                    .group_by(participant.c.meeting_id, participant.c.status)
                ).all()
            }
            if ids
            else {}
        )
        reminders: dict[str, dict[tuple[str, str], int]] = {}
        if ids:
            keys = [f"meeting:{i}" for i in ids]
            timed = (ledger.c.source_key.like(f"{key}@%") for key in keys)
            of_meetings = or_(ledger.c.source_key.in_(keys), *timed)
            for source, rule, status, count in connection.execute(
                select(ledger.c.source_key, ledger.c.rule, ledger.c.status, func.count())
                .where(of_meetings)
                .group_by(ledger.c.source_key, ledger.c.rule, ledger.c.status)
            ).all():
                # A meeting's rows of each of its times count together.
                counts = reminders.setdefault(source.partition("@")[0], {})
                counts[(rule, status)] = counts.get((rule, status), 0) + int(count)
    return [
        MeetingState(
            meeting_id=row.meeting_id,
            title=row.title,
            network=row.network_name,
            starts_at=row.starts_at,
            registration_deadline=timefmt.swedish_date(row.registration_deadline),
            cancelled=bool(row.cancelled),
            invitees=int(invited.get(row.meeting_id, 0)),
            registered=people.get((row.meeting_id, "registered"), 0),
            waiting=people.get((row.meeting_id, "waiting"), 0),
            ledger=reminders.get(f"meeting:{row.meeting_id}", {}),
        )
        for row in rows
    ]


def _local(value: datetime | None) -> str:
    return timefmt.local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def staff_pages_router(settings: NotificationsSettings, engine: Engine) -> APIRouter:
    router = APIRouter()
    templates = make_templates(TEMPLATES)
    templates.env.filters["local"] = _local
    page_user = Depends(staff_page(settings, "staff"))
    api_user = Depends(staff_api(settings, "staff"))
    # Sample links are signed with a key of their own: a preview must never hand out a working
    # sign-up or cancellation link for whatever real meeting or contact has a sample's id.
    links = Links(PREVIEW_SECRET, settings.registration_public_url)

    @router.get("/meetings", response_class=HTMLResponse, include_in_schema=False)
    def meetings_page(request: Request, user: str = page_user) -> Any:
        return templates.TemplateResponse(
            request,
            "meetings.html",
            {
                "user": user,
                "meetings": meeting_states(engine),
                "rules": [r for r in RULES if r.name.startswith(("meeting", "invitation"))],
                "status_labels": LEDGER_STATUS_LABELS,
            },
        )

    @router.get("/reminders", response_class=HTMLResponse, include_in_schema=False)
    def reminders_page(
        request: Request,
        rule: RuleQuery = None,
        status: LedgerStatusQuery = None,
        source: SourceQuery = None,
        user: str = page_user,
    ) -> Any:
        return templates.TemplateResponse(
            request,
            "reminders.html",
            {
                "user": user,
                "ledger": read_ledger(engine, rule=rule, status=status, source=source),
                "rules": RULES,
                "selected_rule": rule or "",
                "selected_status": status.value if status else "",
                "source": source or "",
                "status_labels": LEDGER_STATUS_LABELS,
            },
        )

    @router.get("/api/v1/reminders", tags=["reminders"])
    def reminders_api(
        rule: RuleQuery = None,
        status: LedgerStatusQuery = None,
        source: SourceQuery = None,
        _user: str = api_user,
    ) -> Ledger:
        """The reminder ledger: what was due, for whom, and the email each became."""
        if rule and rule not in RULES_BY_NAME:
            raise HTTPException(404, "Okänd påminnelseregel")
        return read_ledger(engine, rule=rule, status=status, source=source)

    @router.get("/templates", response_class=HTMLResponse, include_in_schema=False)
    def templates_page(request: Request, user: str = page_user) -> Any:
        names = previews.template_names()
        return templates.TemplateResponse(
            request,
            "email_templates.html",
            {
                "user": user,
                "names": names,
                "titles": {
                    name: previews.PREVIEWS[name].title if name in previews.PREVIEWS else "" for name in names
                },
            },
        )

    @router.get("/templates/{name}", response_class=HTMLResponse, include_in_schema=False)
    def template_preview_page(request: Request, name: str, user: str = page_user) -> Any:
        if name not in previews.PREVIEWS:
            raise HTTPException(404, "Det finns ingen mall med det namnet.")
        email = previews.render_preview(name, links, settings.mail_from)
        body = email.html if name.endswith(".html") and email.html is not None else email.text
        return templates.TemplateResponse(
            request,
            "email_template_preview.html",
            {
                "user": user,
                "name": name,
                "title": previews.PREVIEWS[name].title,
                "email": email,
                "body": body,
                "attachments": [part.filename for part in email.attachments],
            },
        )

    return router
