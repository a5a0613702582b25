"""A local SMTP catcher: keeps every message it receives as an ``.eml`` file.

``python -m devtools.mailcatcher --port 1025 --dir var/mail``. With
``--log-only FILE`` it writes one line per message instead (arrival time and
recipients), which is what the benchmark needs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import uvloop
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope


class EmlWriter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(raw)
        print(f"mail: {', '.join(envelope.rcpt_tos)} -> {path}", flush=True)
        return "250 OK"


class ArrivalLog:
    """One line per message: ``<unix time> <recipient,...>``; cheap enough for load tests."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", buffering=1)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Envelope) -> str:
        self.file.write(f"{time.time():.6f} {','.join(envelope.rcpt_tos)}\n")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    parser.add_argument("--log-only", type=Path, default=None)
    args = parser.parse_args()
    handler: Any = ArrivalLog(args.log_only) if args.log_only else EmlWriter(args.dir)
    # uvloop (uvicorn's loop, already installed) receives the same mail for about a quarter less CPU.
    controller = Controller(handler, hostname=args.host, port=args.port, data_size_limit=20_000_000,
                            loop=uvloop.new_event_loop())
    controller.start()
    where = args.log_only or args.dir
    print(f"mail catcher listening on {args.host}:{args.port}, keeping mail in {where}", flush=True)

    async def wait_for_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait_for_signal())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
