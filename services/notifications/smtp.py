"""SMTP sessions that stay open across many messages, and one mail transaction on such a session."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import aiosmtplib
from aiosmtplib import SMTPStatus

from services.notifications import mime
from services.notifications.models import ERROR_LENGTH
from services.notifications.settings import NotificationsSettings


class SmtpUnavailable(Exception):
    """Could not open an SMTP session at all (refused, timed out, bad greeting)."""


def describe(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:ERROR_LENGTH]


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

    @property
    def is_open(self) -> bool:
        return self._smtp is not None

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

    async def open(self) -> None:
        """Open the session now if it is not open; ``SmtpUnavailable`` if that fails."""
        if self._smtp is None:
            self._smtp = await self._connect()

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
