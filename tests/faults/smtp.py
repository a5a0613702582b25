"""An aiosmtpd server that can misbehave: go away and come back on the same port, or drop replies.

Every message it takes is kept with its headers only (``Message-ID``, ``To``,
``Subject``), across restarts, so the invariant checker counts what really
arrived: a message whose reply was dropped still arrived, exactly as at a real
mail server that crashed after queueing it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.support.servers import free_port


@dataclass(frozen=True)
class Received:
    message_id: str
    to: str
    subject: str
    rcpt_tos: tuple[str, ...]


class _Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.drop_replies = 0
        self.dropped = 0

    async def handle_DATA(self, server: Any, _session: Any, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        headers = BytesHeaderParser(policy=default).parsebytes(raw)
        message = Received(message_id=str(headers["Message-ID"]), to=str(headers["To"]),
                           subject=str(headers["Subject"]), rcpt_tos=tuple(envelope.rcpt_tos))
        with self.lock:
            self.received.append(message)
            drop = self.drop_replies > 0
            if drop:
                self.drop_replies -= 1
                self.dropped += 1
        if drop:
            # The message is taken, but the client never hears "250": the connection dies first.
            server.transport.abort()
        return "250 OK"


class FaultySmtpServer:
    """A real SMTP server on a fixed port that a test can stop, restart, or make drop replies."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Handler()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (again) on the same port; what was received before is kept."""
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def drop_replies(self, count: int) -> None:
        """Take the next ``count`` messages but close the connection before answering."""
        with self._handler.lock:
            self._handler.drop_replies = count

    @property
    def dropped(self) -> int:
        with self._handler.lock:
            return self._handler.dropped

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.1)
        return False
