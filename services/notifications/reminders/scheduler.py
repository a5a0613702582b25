"""The reminder scheduler: record what is due in the ledger, then queue the unsent rows as emails.

Each tick runs two transactions. *Plan* inserts the due rows the rules
compute (``INSERT ... ON CONFLICT DO NOTHING`` on the ledger's unique key, so
a row is recorded once however often and wherever the tick runs). *Send*
claims pending rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the
write lock that ``shared.db.transaction`` takes at BEGIN) and, in the same
transaction, writes each one's email into the email log and marks the row
queued with the email's id, or skipped with the reason. A crash before the
commit leaves the row pending; after it, the row is done. So nothing is sent
twice, across restarts and instances, and the mail sender does the SMTP part
with its retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import Engine, Row, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from services.notifications import digest, domain
from services.notifications.domain import EmailStatus
from services.notifications.meetings import Links
from services.notifications.models import Email
from services.notifications.readmodels import (
    DeadLetterSeen,
    InviteeView,
    InvoiceView,
    MeetingView,
    NetworkWeeks,
    ParticipantView,
    UnsubscribedContact,
)
from services.notifications.reminders.models import LedgerStatus, ReminderEntry
from services.notifications.reminders.rules import (
    MOVED,
    RULES,
    RULES_BY_NAME,
    SENT_BEFORE_MOVE,
    Context,
    DueRow,
    Rule,
    Snapshot,
    due_rows,
    moved,
    source_meeting_id,
)
from services.notifications.settings import NotificationsSettings
from shared.clock import Clock
from shared.db import is_sqlite, transaction
from shared.digits import is_digits
from shared.metrics import REGISTRY
from shared.threads import finish_in_thread

log = structlog.get_logger(__name__)

# Ticks run to the end: tests (and operators) see the scheduler at work even when nothing is due.
REMINDER_TICKS = Counter("reglab_reminder_ticks", "Reminder scheduler ticks completed", registry=REGISTRY)

ledger = ReminderEntry.__table__  # type: ignore[attr-defined]
# Fixed: an email's identity (and Message-ID) must not depend on the instance.
# Rows per INSERT: well under SQLite's limit of bound parameters.
INSERT_CHUNK = 500
REMINDER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "reminders.notifications.reglab-natverk")


@dataclass(frozen=True)
class TickResult:
    recorded: int
    queued: int
    skipped: int


def reminder_event_id(rule: str, source_key: str, recipient: str) -> uuid.UUID:
    """The email log's ``source_event_id`` for a ledger row: the same row, the same email identity."""
    return uuid.uuid5(REMINDER_NAMESPACE, f"{rule}|{source_key}|{recipient}")


def load_snapshot(session: Session, now: datetime, *, staff_email: str) -> Snapshot:
    """The read models the rules need: meetings not yet over, their people, and open overdue invoices."""
    meetings = tuple(
        session.exec(select(MeetingView).where(col(MeetingView.starts_at) > now - timedelta(days=1))).all()
    )
    ids = [m.meeting_id for m in meetings]
    invitees = tuple(session.exec(select(InviteeView).where(col(InviteeView.meeting_id).in_(ids))).all())
    participants = tuple(
        session.exec(select(ParticipantView).where(col(ParticipantView.meeting_id).in_(ids))).all()
    )
    unsubscribed = frozenset(session.exec(select(UnsubscribedContact.contact_id)).all())
    invoices = tuple(
        session.exec(
            select(InvoiceView).where(
                col(InvoiceView.overdue_as_of).is_not(None),
                col(InvoiceView.paid).is_(False),
                col(InvoiceView.credited).is_(False),
            )
        ).all()
    )
    return Snapshot(
        meetings=meetings,
        invitees=invitees,
        participants=participants,
        unsubscribed=unsubscribed,
        invoices=invoices,
        staff_email=staff_email,
    )


def load_digest(session: Session, now: datetime, *, few_share: float) -> digest.Digest:
    weeks = {
        row.year: [int(w) for w in row.weeks.split(",") if is_digits(w.strip())]
        for row in session.exec(select(NetworkWeeks)).all()
    }
    meetings = session.exec(select(MeetingView).where(col(MeetingView.starts_at) > now)).all()
    connection = session.connection()
    participant = ParticipantView.__table__  # type: ignore[attr-defined]
    registered = {
        int(meeting_id): int(count)
        for meeting_id, count in connection.execute(
            sa_select(participant.c.meeting_id, func.count())
            .where(participant.c.status == "registered")
            .group_by(participant.c.meeting_id)
        ).all()
    }
    invoices = session.exec(select(InvoiceView).where(col(InvoiceView.overdue_as_of).is_not(None))).all()
    email = Email.__table__  # type: ignore[attr-defined]
    failed_rows = connection.execute(
        sa_select(email.c.id, email.c.recipient, email.c.subject, email.c.last_error)
        .where(email.c.status == EmailStatus.failed.value)
        .order_by(email.c.id.desc())
        .limit(digest.LISTED)
    ).all()
    failed_total = connection.execute(
        sa_select(func.count()).select_from(email).where(email.c.status == EmailStatus.failed.value)
    ).scalar_one()
    letters = session.exec(
        select(DeadLetterSeen).where(col(DeadLetterSeen.recorded_at) >= now - timedelta(days=7))
    ).all()
    return digest.collect(
        now=now,
        weeks_by_year=weeks,
        meetings=meetings,
        registered=registered,
        invoices=invoices,
        failed_emails=[
            digest.FailedEmailLine(
                id=r.id,
                recipient=r.recipient,
                subject=r.subject,
                error=domain.one_line(r.last_error or "", 200),
            )
            for r in failed_rows
        ],
        failed_total=int(failed_total),
        dead_letters=letters,
        few_share=few_share,
    )


class ReminderScheduler:
    """Plans and sends reminders every REMINDER_POLL_SECONDS; ``wake`` tells the mail sender of new rows."""

    def __init__(
        self,
        engine: Engine,
        settings: NotificationsSettings,
        *,
        clock: Clock,
        rules: Sequence[Rule] = RULES,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        floor = settings.reminders_effective_from
        self._rules = tuple(
            dataclasses.replace(rule, effective_from=floor) if floor else rule for rule in rules
        )
        self._by_name = {rule.name: rule for rule in self._rules} | {
            name: rule for name, rule in RULES_BY_NAME.items() if name not in {r.name for r in self._rules}
        }
        self._wake = wake
        self._context = Context(
            links=Links(settings.secret_key, settings.registration_public_url), organizer=settings.mail_from
        )

    async def run(self) -> None:
        log.info(
            "reminder scheduler started",
            rules=[rule.name for rule in self._rules],
            poll_seconds=self._settings.reminder_poll_seconds,
        )
        while True:
            try:
                # Seen through even when the service stops meanwhile: the thread holds a pooled
                # connection, and the engine is disposed of right after this task is cancelled.
                result = await finish_in_thread(self.tick)
                REMINDER_TICKS.inc()
                if result.queued:
                    self._wake()
            except Exception:
                log.exception("reminder tick failed; retrying at the next poll")
            await asyncio.sleep(self._settings.reminder_poll_seconds)

    def tick(self) -> TickResult:
        now = self._clock.now()
        recorded = self.plan(now)
        queued = skipped = 0
        while True:  # batch after batch, until what is due is done
            more_queued, more_skipped = self.send(now)
            queued, skipped = queued + more_queued, skipped + more_skipped
            if more_queued + more_skipped < self._settings.reminder_batch:
                break
        return TickResult(recorded=recorded, queued=queued, skipped=skipped)

    def plan(self, now: datetime) -> int:
        """Record every due row that is not recorded yet; the count of new rows."""
        with transaction(self._engine) as session:
            snapshot = load_snapshot(session, now, staff_email=self._settings.staff_email)
            rows = _dedupe(due_rows(self._rules, snapshot, now))
            connection = session.connection()
            if rows:
                # Most due rows were recorded by an earlier tick: leave those out before inserting.
                known = {
                    tuple(row)
                    for row in connection.execute(
                        sa_select(ledger.c.rule, ledger.c.source_key, ledger.c.recipient).where(
                            ledger.c.source_key.in_({r.source_key for r in rows})
                        )
                    ).all()
                }
                rows = [r for r in rows if (r.rule, r.source_key, r.recipient) not in known]
            sent = _sent_for_meetings(connection, rows)
            count = 0
            dialect = postgresql if not is_sqlite(self._engine) else sqlite
            for start in range(0, len(rows), INSERT_CHUNK):
                values = [
                    {
                        "rule": r.rule,
                        "source_key": r.source_key,
                        "recipient": r.recipient,
                        "recipient_name": r.recipient_name[:300],
                        "ref": r.ref,
                        "subject": r.subject,
                        "due_at": r.due_at,
                        # A moved meeting's reminder already sent at or after this due time: not again.
                        **(
                            _skipped(SENT_BEFORE_MOVE, now)
                            if _sent_since(sent, r)
                            else {"status": LedgerStatus.pending.value, "note": "", "handled_at": None}
                        ),
                        "created_at": now,
                    }
                    for r in rows[start : start + INSERT_CHUNK]
                ]
                # ON CONFLICT DO NOTHING: another instance may record the same rows at the same moment.
                statement = (
                    dialect.insert(ledger)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=["rule", "source_key", "recipient"])
                    .returning(ledger.c.id)
                )
                # RETURNING, not rowcount: only the rows this call inserted, on both databases.
                count += len(connection.execute(statement).all())
        if count:
            log.info("reminders recorded", count=count)
        return count

    def send(self, now: datetime) -> tuple[int, int]:
        """Queue the email of every pending row due by now; (queued, skipped)."""
        query = (
            sa_select(ledger)
            .where(ledger.c.status == LedgerStatus.pending.value, ledger.c.due_at <= now)
            .order_by(ledger.c.due_at, ledger.c.id)
            .limit(self._settings.reminder_batch)
        )
        if not is_sqlite(self._engine):
            query = query.with_for_update(skip_locked=True)
        queued = skipped = 0
        with transaction(self._engine) as session:
            connection = session.connection()
            claimed = connection.execute(query).all()
            if not claimed:
                return 0, 0
            snapshot = load_snapshot(session, now, staff_email=self._settings.staff_email)
            if any(row.rule == "staff_digest" for row in claimed):
                snapshot = dataclasses.replace(
                    snapshot,
                    digest=load_digest(session, now, few_share=self._settings.digest_few_signups_share),
                )
            for row in claimed:
                email, note = self._email_for(row, snapshot, now)
                if email is not None:
                    session.add(email)
                    session.flush()
                    queued += 1
                else:
                    skipped += 1
                connection.execute(
                    ledger.update()
                    .where(ledger.c.id == row.id)
                    .values(
                        status=(LedgerStatus.queued if email is not None else LedgerStatus.skipped).value,
                        email_id=email.id if email is not None else None,
                        note=note[:500],
                        handled_at=now,
                    )
                )
        log.info("reminders handled", queued=queued, skipped=skipped)
        return queued, skipped

    def _email_for(self, row: Row[Any], snapshot: Snapshot, now: datetime) -> tuple[Email | None, str]:
        rule = self._by_name.get(row.rule)
        if rule is None:
            return None, "okänd regel"
        due = DueRow(
            rule=row.rule,
            source_key=row.source_key,
            recipient=row.recipient,
            recipient_name=row.recipient_name,
            ref=row.ref,
            subject=row.subject,
            due_at=row.due_at,
        )
        if moved(rule, due, snapshot):
            return None, MOVED
        outgoing = rule.build(rule, due, snapshot, self._context)
        if outgoing is None:
            return None, rule.skip_reason
        event_id = reminder_event_id(due.rule, due.source_key, due.recipient)
        try:
            rendered = domain.render(outgoing, sender=self._settings.mail_from, event_id=event_id, date=now)
        except ValueError as error:
            return None, f"kan inte skickas: {error}"
        return Email(
            kind=rendered.kind.value,
            recipient=rendered.recipient,
            envelope_from=rendered.envelope_from,
            subject=rendered.subject,
            message_id=rendered.message_id,
            source_event_id=str(event_id),
            source_event_type=f"reminder.{due.rule}",
            correlation_id=f"reminder-{row.id}",
            status=EmailStatus.queued.value,
            created_at=now,
            next_attempt_at=now,
            raw=rendered.raw,
        ), ""


SentKey = tuple[str, int, str]


def _sent_for_meetings(connection: Any, rows: list[DueRow]) -> dict[SentKey, datetime]:
    """The latest due time already sent per (rule, meeting, recipient), for the meetings among ``rows``."""
    meetings = {source_meeting_id(r.source_key) for r in rows if "@" in r.source_key} - {None}
    if not meetings:
        return {}
    found = connection.execute(
        sa_select(ledger.c.rule, ledger.c.source_key, ledger.c.recipient, ledger.c.due_at).where(
            ledger.c.status == LedgerStatus.queued.value,
            ledger.c.recipient.in_({r.recipient for r in rows}),
            ledger.c.source_key.like("meeting:%"),
        )
    ).all()
    sent: dict[SentKey, datetime] = {}
    for rule, source_key, recipient, due_at in found:
        meeting_id = source_meeting_id(source_key)
        if meeting_id is not None and meeting_id in meetings:
            key = (rule, meeting_id, recipient)
            sent[key] = max(sent.get(key, due_at), due_at)
    return sent


def _skipped(note: str, now: datetime) -> dict[str, Any]:
    return {"status": LedgerStatus.skipped.value, "note": note, "handled_at": now}


def _sent_since(sent: dict[SentKey, datetime], row: DueRow) -> bool:
    meeting_id = source_meeting_id(row.source_key)
    if meeting_id is None or "@" not in row.source_key:
        return False
    earlier = sent.get((row.rule, meeting_id, row.recipient))
    return earlier is not None and earlier >= row.due_at


def _dedupe(rows: list[DueRow]) -> list[DueRow]:
    """One row per ledger key (two invitees may share an address): the first wins."""
    seen: dict[tuple[str, str, str], DueRow] = {}
    for row in rows:
        seen.setdefault((row.rule, row.source_key, row.recipient), row)
    return list(seen.values())
