"""The mail sender: claims due emails in batches and sends them over a few persistent SMTP sessions.

Three kinds of task work as a pipeline, so the database and SMTP never wait
for each other:

- the claimer takes due rows in batches, one transaction each, under a lease
  (``claimed_by`` and ``next_attempt_at`` pushed past the lease; ``FOR UPDATE
  SKIP LOCKED`` on PostgreSQL), so two instances never take the same row, and
  a row whose instance died is taken again when its lease ends;
- ``sender_concurrency`` workers each keep one SMTP session open and send
  what the claimer queued;
- the recorder writes outcomes in batches: sent, or a failure retried later
  with exponential backoff and jitter. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import structlog
from sqlalchemy import Engine, bindparam, select, update

from services.notifications import alerts, domain
from services.notifications.domain import EmailStatus
from services.notifications.models import Email, UtcDateTime
from services.notifications.settings import NotificationsSettings
from services.notifications.smtp import SmtpConnection, SmtpUnavailable, describe
from shared.db import is_sqlite, transaction
from shared.events import utc_now
from shared.threads import finish_in_thread
from shared.waiting import wait_or_timeout

log = structlog.get_logger(__name__)

table = Email.__table__  # type: ignore[attr-defined]
# How long the recorder waits after a first outcome, to write it with its neighbours.
RECORD_GATHER_SECONDS = 0.02


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    envelope_from: str
    recipient: str
    attempts: int
    raw: bytes


Outcome = tuple[Claimed, str | None]
"""An attempted email and its error, None when the server accepted it."""


class MailSender:
    """Background task sending due emails; :meth:`wake` it after new rows commit."""

    def __init__(self, engine: Engine, settings: NotificationsSettings, *, instance: str,
                 clock: Callable[[], datetime] = utc_now,
                 jitter: Callable[[], float] = random.random) -> None:
        self._engine = engine
        self._settings = settings
        self.instance = instance
        self._clock = clock
        self._jitter = jitter
        self._connections = [SmtpConnection(settings) for _ in range(settings.sender_concurrency)]
        # Set by consumers after a commit, and by the recorder when it frees room.
        self._wake = asyncio.Event()
        self._queue: asyncio.Queue[Claimed] = asyncio.Queue()
        # Claimed by us and not yet recorded, by id: what a shutdown must hand back.
        self._in_flight: dict[int, Claimed] = {}
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        # Set when no SMTP session could be opened; cleared by the next claim, so
        # each batch probes the server once per worker instead of once per email.
        self._unavailable: str | None = None
        self.sent = 0
        self._unlogged = 0
        self._logged_at = 0.0

    def wake(self) -> None:
        """Send what was just recorded now, rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        log.info("mail sender started", smtp=f"{self._settings.smtp_host}:{self._settings.smtp_port}",
                 connections=len(self._connections), instance=self.instance)
        helpers = [asyncio.create_task(self._work(connection), name=f"smtp-{n}")
                   for n, connection in enumerate(self._connections)]
        helpers.append(asyncio.create_task(self._record_outcomes(), name="mail-recorder"))
        try:
            await self._claim_due()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._hand_back()
            await asyncio.gather(*(connection.close(polite=True) for connection in self._connections))

    # --- claimer ---------------------------------------------------------------

    async def _claim_due(self) -> None:
        batch = self._settings.sender_batch
        while True:
            # Cleared before looking, so a wake while claiming is not lost.
            self._wake.clear()
            claimed: list[Claimed] = []
            # Claim again once half the previous batches are through: big enough batches,
            # and the workers never run dry while the database answers.
            if len(self._in_flight) <= batch // 2:
                try:
                    claimed = await self._claim_batch(batch - len(self._in_flight))
                except Exception:
                    log.exception("claiming due emails failed; retrying in 1 s")
                    await asyncio.sleep(1.0)
                    continue
            if claimed:
                self._unavailable = None
                for email in claimed:
                    self._in_flight[email.id] = email
                    self._queue.put_nowait(email)
                continue  # more may be due right behind
            await wait_or_timeout(self._wake, self._settings.sender_poll_seconds)

    async def _claim_batch(self, limit: int) -> list[Claimed]:
        claiming = asyncio.ensure_future(anyio.to_thread.run_sync(self._claim, limit))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # Shutdown while claiming: let the thread end, then hand back what it took.
            with contextlib.suppress(Exception):
                claimed = await claiming
                await finish_in_thread(self._record, [], [email.id for email in claimed])
            raise

    def _claim(self, limit: int) -> list[Claimed]:
        now = self._clock()
        query = (
            select(table.c.id, table.c.kind, table.c.envelope_from, table.c.recipient,
                   table.c.attempts, table.c.raw)
            .where(table.c.status == EmailStatus.queued.value, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
        if not is_sqlite(self._engine):
            query = query.with_for_update(skip_locked=True)
        # shared.db.transaction: on SQLite a writer's BEGIN takes the write lock up front,
        # so this read-then-update never fails on a lock upgrade.
        with transaction(self._engine) as session:
            connection = session.connection()
            rows = connection.execute(query).all()
            if rows:
                lease_end = now + timedelta(seconds=self._settings.claim_lease_seconds)
                connection.execute(
                    update(table).where(table.c.id.in_([row.id for row in rows]))
                    .values(claimed_by=self.instance, next_attempt_at=lease_end)
                )
        return [Claimed(id=row.id, kind=row.kind, envelope_from=row.envelope_from, recipient=row.recipient,
                        attempts=row.attempts, raw=bytes(row.raw)) for row in rows]

    # --- workers ---------------------------------------------------------------

    async def _work(self, connection: SmtpConnection) -> None:
        while True:
            email = await self._queue.get()
            error: str | None = None
            if self._unavailable is not None and not connection.is_open:
                error = f"not attempted, the server was unavailable: {self._unavailable}"
            else:
                error = await self._send(connection, email)
            self._outcomes.append((email, error))
            self._outcome_ready.set()

    async def _send(self, connection: SmtpConnection, email: Claimed) -> str | None:
        """Send one email; its error, or None when the server accepted it.

        A shutdown may cancel the wait for a session (the email is then handed
        back untried), but not a transaction under way: the server may already
        hold the message, and released unrecorded it would be sent again after
        a restart. So the worker hears the answer (bounded by
        SMTP_TIMEOUT_SECONDS) and leaves the outcome for the hand-back.
        """
        try:
            await connection.open()
        except SmtpUnavailable as unavailable:
            self._unavailable = str(unavailable)
            return self._unavailable
        sending = asyncio.ensure_future(self._transaction(connection, email))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self._outcomes.append((email, await sending))
            raise

    async def _transaction(self, connection: SmtpConnection, email: Claimed) -> str | None:
        try:
            await connection.send(email.envelope_from, email.recipient, email.raw)
        except SmtpUnavailable as unavailable:
            self._unavailable = str(unavailable)
            return self._unavailable
        except Exception as failure:
            return describe(failure)
        return None

    # --- recorder --------------------------------------------------------------

    async def _record_outcomes(self) -> None:
        while True:
            await self._outcome_ready.wait()
            # Let a few more finish: one transaction for many outcomes, not one per email
            # (at full speed that would be hundreds of small writes a second).
            await asyncio.sleep(RECORD_GATHER_SECONDS)
            self._outcome_ready.clear()
            outcomes, self._outcomes = self._outcomes, []
            try:
                await finish_in_thread(self._record, outcomes, [])
            except asyncio.CancelledError:
                self._outcomes[:0] = outcomes  # the shutdown hand-back writes them (again: harmless)
                raise
            except Exception:
                log.exception("recording sent emails failed; retrying in 1 s")
                self._outcomes[:0] = outcomes
                await asyncio.sleep(1.0)
                self._outcome_ready.set()
                continue
            for email, _error in outcomes:
                self._in_flight.pop(email.id, None)
            self._wake.set()  # room for the claimer

    async def _hand_back(self) -> None:
        """On shutdown: record what was attempted, release what was claimed but not attempted."""
        attempted = {email.id for email, _error in self._outcomes}
        released = [email_id for email_id in self._in_flight if email_id not in attempted]
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._queue.get_nowait()
        if self._outcomes or released:
            try:
                await finish_in_thread(self._record, self._outcomes, released)
            except Exception:
                log.exception("could not hand back claimed emails; their lease will expire",
                              count=len(released))
        self._outcomes, self._in_flight = [], {}

    def _record(self, outcomes: list[Outcome], released: list[int]) -> None:
        """Write outcomes and releases in one transaction; only rows this instance still holds."""
        now = self._clock()
        settings = self._settings
        sent = [email for email, error in outcomes if error is None]
        failures: list[dict[str, Any]] = []
        for email, error in outcomes:
            if error is None:
                continue
            attempts = email.attempts + 1
            status = domain.status_after_failure(attempts, settings.max_attempts)
            next_at = domain.next_attempt_at(now, attempts, base=settings.retry_base_seconds,
                                             ceiling=settings.retry_ceiling_seconds, jitter=self._jitter())
            failures.append({"b_id": email.id, "b_attempts": attempts, "b_status": status.value,
                             "b_error": error, "b_next": next_at})
            if status is EmailStatus.failed:
                log.error("email failed for good", email_id=email.id, kind=email.kind,
                          recipient=email.recipient, attempts=attempts, error=error)
            else:
                log.warning("email not sent; will retry", email_id=email.id, kind=email.kind,
                            recipient=email.recipient, attempts=attempts, error=error,
                            retry_in_s=round((next_at - now).total_seconds(), 2))
        # A row whose lease ran out may have been claimed by another instance meanwhile.
        mine = table.c.claimed_by == self.instance
        with transaction(self._engine) as session:
            connection = session.connection()
            if sent:
                connection.execute(
                    update(table).where(table.c.id.in_([email.id for email in sent]), mine)
                    .values(status=EmailStatus.sent.value, sent_at=now, attempts=table.c.attempts + 1,
                            last_error=None, claimed_by=None)
                )
            if failures:
                record_failure = (
                    update(table).where(table.c.id == bindparam("b_id"), mine)
                    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
                            last_error=bindparam("b_error"),
                            next_attempt_at=bindparam("b_next", type_=UtcDateTime()), claimed_by=None)
                )
                retrying = [f for f in failures if f["b_status"] == EmailStatus.queued.value]
                if retrying:
                    connection.execute(record_failure, retrying)
                # Given up on: one at a time, so the row count says we still held the lease
                # and staff are told once, in this transaction.
                gave_up = [f["b_id"] for f in failures if f["b_status"] == EmailStatus.failed.value
                           and connection.execute(record_failure, f).rowcount == 1]
                alerts.record_failure_alert(connection, gave_up, staff_email=settings.staff_email,
                                            sender=settings.mail_from, now=now)
            if released:
                connection.execute(
                    update(table).where(table.c.id.in_(released), mine)
                    .values(next_attempt_at=now, claimed_by=None)
                )
        for email in sent:
            log.debug("email sent", email_id=email.id, kind=email.kind, recipient=email.recipient,
                      attempts=email.attempts + 1)
        self.sent += len(sent)
        self._unlogged += len(sent)
        idle = len(self._in_flight) <= len(outcomes) + len(released)
        if self._unlogged and (idle or time.monotonic() - self._logged_at >= 1.0):
            # At INFO one line a second under load (LOG_LEVEL=DEBUG shows each email).
            log.info("emails sent", count=self._unlogged, total=self.sent)
            self._unlogged, self._logged_at = 0, time.monotonic()
