"""The mail sender: claims due emails in batches and sends them over a few persistent SMTP sessions.

One cycle: claim up to ``sender_batch`` due rows in one transaction (a lease:
``claimed_by`` and ``next_attempt_at`` pushed past the lease, under
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so instances never take the same
row), send them with ``sender_concurrency`` workers that each keep one SMTP
connection open, then record every outcome in one transaction. A failure is
retried later with exponential backoff and jitter; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
import anyio.to_thread
import structlog
from aiosmtplib import SMTPStatus
from sqlalchemy import Engine, bindparam, select, update

from services.notifications import domain, mime
from services.notifications.domain import EmailStatus
from services.notifications.models import ERROR_LENGTH, Email, UtcDateTime
from services.notifications.settings import NotificationsSettings
from shared.db import is_sqlite
from shared.events import utc_now

log = structlog.get_logger(__name__)

table = Email.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    envelope_from: str
    recipient: str
    attempts: int
    raw: bytes


class SmtpUnavailable(Exception):
    """Could not open an SMTP session at all (refused, timed out, bad greeting)."""


def describe(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:ERROR_LENGTH]


async def finish_in_thread(work: Callable[..., None], *args: Any) -> None:
    """Run database work in a thread and see it through even if this task is cancelled meanwhile.

    A cancelled task does not stop its worker thread, which holds a pooled
    connection; the service disposes of its engine right after cancelling us.
    """
    running = asyncio.ensure_future(anyio.to_thread.run_sync(work, *args))
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        await running
        raise


async def send_transaction(smtp: aiosmtplib.SMTP, envelope_from: str, recipient: str, raw: bytes) -> None:
    """MAIL, RCPT and DATA for one stored message, on an open session.

    What ``SMTP.sendmail`` does, but the message body is sent as prepared by
    :func:`mime.to_wire` instead of being normalised by regular expressions
    three times (see there). Uses aiosmtplib's public commands and its
    protocol's ``write``/``read_response``; the session is used by one worker
    at a time, so no command lock is needed.
    """
    wire = mime.to_wire(raw)
    options = [f"SIZE={len(wire) - 3}"] if smtp.supports_extension("size") else []
    try:
        await smtp.mail(envelope_from, options=options)
        await smtp.rcpt(recipient)
        start = await smtp.execute_command(b"DATA")
        if start.code != SMTPStatus.start_input:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        if smtp.protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost before the message was sent")
        smtp.protocol.write(wire)
        done = await smtp.protocol.read_response(timeout=smtp.timeout)
        if done.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(done.code, done.message)
    except aiosmtplib.SMTPResponseException:
        # Reset the envelope so the session can carry the next message, as sendmail does.
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await smtp.rset()
        raise


class SmtpConnection:
    """One SMTP session kept open across many messages, reopened after it breaks."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._smtp: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self._settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host, port=settings.smtp_port, timeout=settings.smtp_timeout_seconds,
            start_tls=settings.smtp_starttls, username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            # getfqdn() may wait on DNS; the plain host name is enough for EHLO.
            local_hostname=socket.gethostname(),
        )
        try:
            await smtp.connect()
        except Exception as error:
            smtp.close()
            raise SmtpUnavailable(describe(error)) from error
        return smtp

    async def send(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        reused = self._smtp is not None
        try:
            await self._send_once(envelope_from, recipient, raw)
        except aiosmtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The server closed the session while it sat idle: one more try on a new one.
            await self._send_once(envelope_from, recipient, raw)

    async def _send_once(self, envelope_from: str, recipient: str, raw: bytes) -> None:
        if self._smtp is None:
            self._smtp = await self._connect()
        try:
            await send_transaction(self._smtp, envelope_from, recipient, raw)
        except aiosmtplib.SMTPResponseException:
            raise  # the server answered and the envelope was reset: the session stays usable
        except BaseException:
            await self.close()
            raise

    async def close(self, *, polite: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite and smtp.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(smtp.quit(), timeout=2)
        smtp.close()


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
        self._wake = asyncio.Event()
        self._connections = [SmtpConnection(settings) for _ in range(settings.sender_concurrency)]
        self.sent = 0

    def wake(self) -> None:
        """Send what was just recorded now, rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        log.info("mail sender started", smtp=f"{self._settings.smtp_host}:{self._settings.smtp_port}",
                 connections=len(self._connections), instance=self.instance)
        try:
            while True:
                # Cleared before looking, so a wake during the cycle is not lost.
                self._wake.clear()
                try:
                    claimed = await self.send_due()
                except Exception:
                    log.exception("mail sender cycle failed; retrying in 1 s")
                    claimed = 0
                    await asyncio.sleep(1.0)
                if claimed:
                    continue  # there may be more due right behind
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._settings.sender_poll_seconds)
        finally:
            await self.close()

    async def close(self) -> None:
        """Say QUIT on every open session, all at once (shutdown should not wait on each in turn)."""
        await asyncio.gather(*(connection.close(polite=True) for connection in self._connections))

    async def send_due(self) -> int:
        """One cycle: claim a batch, send it, record the outcomes. Returns how many were claimed."""
        claiming = asyncio.ensure_future(anyio.to_thread.run_sync(self._claim))
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # Shutdown while claiming: the thread holds a connection, so let it end,
            # then hand back what it claimed rather than leave it leased.
            with contextlib.suppress(Exception):
                await finish_in_thread(self._record, await claiming, {})
            raise
        if not claimed:
            return 0
        outcomes: dict[int, str | None] = {}
        try:
            await self._send_all(claimed, outcomes)
        finally:
            # Also on cancellation (shutdown): what was sent is marked sent, the rest released.
            await finish_in_thread(self._record, claimed, outcomes)
        return len(claimed)

    async def _send_all(self, claimed: list[Claimed], outcomes: dict[int, str | None]) -> None:
        pending = deque(claimed)
        workers = self._connections[: len(claimed)]
        alive = len(workers)

        async def work(connection: SmtpConnection) -> None:
            nonlocal alive
            while pending:
                email = pending.popleft()
                try:
                    await connection.send(email.envelope_from, email.recipient, email.raw)
                except SmtpUnavailable as error:
                    outcomes[email.id] = str(error)
                    alive -= 1
                    if alive == 0:
                        # No session could be opened: the rest of the batch waits for the retry.
                        while pending:
                            outcomes[pending.popleft().id] = f"not attempted, server unavailable: {error}"
                    return
                except Exception as error:
                    outcomes[email.id] = describe(error)
                else:
                    outcomes[email.id] = None

        await asyncio.gather(*(work(connection) for connection in workers))

    def _claim(self) -> list[Claimed]:
        now = self._clock()
        query = (
            select(table.c.id, table.c.kind, table.c.envelope_from, table.c.recipient,
                   table.c.attempts, table.c.raw)
            .where(table.c.status == EmailStatus.queued.value, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(self._settings.sender_batch)
        )
        if not is_sqlite(self._engine):
            query = query.with_for_update(skip_locked=True)
        with self._engine.begin() as connection:
            rows = connection.execute(query).all()
            if rows:
                lease_end = now + timedelta(seconds=self._settings.claim_lease_seconds)
                connection.execute(
                    update(table).where(table.c.id.in_([row.id for row in rows]))
                    .values(claimed_by=self.instance, next_attempt_at=lease_end)
                )
        return [Claimed(id=row.id, kind=row.kind, envelope_from=row.envelope_from, recipient=row.recipient,
                        attempts=row.attempts, raw=bytes(row.raw)) for row in rows]

    def _record(self, claimed: list[Claimed], outcomes: dict[int, str | None]) -> None:
        now = self._clock()
        settings = self._settings
        sent = [email for email in claimed if email.id in outcomes and outcomes[email.id] is None]
        released = [email.id for email in claimed if email.id not in outcomes]
        failures = []
        for email in claimed:
            error = outcomes.get(email.id)
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
        mine = table.c.claimed_by == self.instance
        with self._engine.begin() as connection:
            if sent:
                connection.execute(
                    update(table).where(table.c.id.in_([email.id for email in sent]), mine)
                    .values(status=EmailStatus.sent.value, sent_at=now, attempts=table.c.attempts + 1,
                            last_error=None, claimed_by=None)
                )
            if failures:
                connection.execute(
                    update(table).where(table.c.id == bindparam("b_id"), mine)
                    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
                            last_error=bindparam("b_error"),
                            next_attempt_at=bindparam("b_next", type_=UtcDateTime()), claimed_by=None),
                    failures,
                )
            if released:
                connection.execute(
                    update(table).where(table.c.id.in_(released), mine)
                    .values(next_attempt_at=now, claimed_by=None)
                )
        for email in sent:
            log.debug("email sent", email_id=email.id, kind=email.kind, recipient=email.recipient,
                      attempts=email.attempts + 1)
        if sent:
            # One line per batch at INFO; LOG_LEVEL=DEBUG shows each email.
            log.info("emails sent", count=len(sent), failed=len(failures), released=len(released),
                     first_id=min(email.id for email in sent), last_id=max(email.id for email in sent))
        self.sent += len(sent)
