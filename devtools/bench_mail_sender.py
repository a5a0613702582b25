"""Throughput of the notifications mail sender alone: queued rows in, messages at an SMTP server out.

``python -m devtools.bench_mail_sender -n 3000 [--database-url URL] [--concurrency 4] [--batch 200]``

Records N emails (two thirds confirmations, one third invoices with a PDF-sized
attachment) in a fresh database, starts the mail catcher as its own process in
arrival-log mode, runs the sender until every row is sent, and prints emails
per second. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from services.notifications import domain
from services.notifications.handlers import record_emails
from services.notifications.models import MODELS
from services.notifications.sender import MailSender
from services.notifications.settings import NotificationsSettings
from shared.db import create_tables, make_engine, transaction
from shared.events import (
    Address,
    Contact,
    InvoiceIssued,
    InvoiceLineInfo,
    MembershipInfo,
    OrganisationSnapshot,
    SignupCompleted,
    utc_now,
)
from shared.logs import configure_logging

PDF_SIZE = 3_000  # about what one invoice PDF weighs (Helvetica, ReportLab; 26 KB with Typst before)


def events(count: int) -> list[SignupCompleted | InvoiceIssued]:
    pdf = base64.b64encode(b"%PDF-1.7\n" + os.urandom(PDF_SIZE)).decode()
    made: list[SignupCompleted | InvoiceIssued] = []
    for n in range(count):
        organisation = OrganisationSnapshot(
            id=n, name=f"Kommun {n}", org_number="2120000142", invoice_email=f"faktura{n}@kommun.example",
            address=Address(street="Storgatan 1", postal_code="111 22", city="Stockholm"))
        if n % 2 == 0:
            made.append(SignupCompleted(
                occurred_at=utc_now(), correlation_id=f"bench-{n}", signup_id=n, organisation=organisation,
                contact=Contact(name=f"Kontakt {n}", email=f"kontakt{n}@kommun.example"), year=2018,
                memberships=(MembershipInfo(membership_id=n, network_code="ung-region",
                                            network_name="Ung region", year=2018, created=True,
                                            fee_exempt=False, fee=Decimal("4000.00")),)))
        else:
            made.append(InvoiceIssued(
                occurred_at=utc_now(), correlation_id=f"bench-{n}", number=f"2018-{n:05d}",
                organisation=organisation, issue_date=utc_now().date(), due_date=utc_now().date(),
                lines=(InvoiceLineInfo(network_code="ung-region", description="Ung region 2018",
                                       amount=Decimal("4000.00")),),
                net=Decimal("4000.00"), vat=Decimal("1000.00"), total=Decimal("5000.00"), ocr="1234",
                pdf_base64=pdf))
    return made


def record(settings: NotificationsSettings, count: int) -> int:
    """Record emails until at least ``count`` rows exist; returns how many."""
    engine = make_engine(settings.database_url)
    create_tables(engine, MODELS)
    recorded = 0
    # 3 events make 4 emails (confirmation, invoice, finance copy, ...): enough events for ``count``.
    with transaction(engine) as session:
        for event in events(count * 3 // 4 + 1):
            emails = (domain.signup_emails(event) if isinstance(event, SignupCompleted)
                      else domain.invoice_emails(event, finance_email=settings.finance_email))
            recorded += len(record_emails(session, event, emails, sender=settings.mail_from, now=utc_now()))
            if recorded >= count:
                break
    engine.dispose()
    return recorded


async def drain(settings: NotificationsSettings, total: int) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds to send ``total`` queued emails."""
    engine = make_engine(settings.database_url)
    sender = MailSender(engine, settings, instance="bench")
    cpu_started = time.process_time()
    started = time.perf_counter()
    task = asyncio.create_task(sender.run())
    while sender.sent < total:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    engine.dispose()
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=3000, help="emails to send")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--log-level", default="WARNING", help="INFO shows a line per email sent")
    args = parser.parse_args()
    configure_logging("notifications", level=args.log_level)

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench-mail.db"
        settings = NotificationsSettings(
            database_url=database_url, smtp_port=args.port, sender_concurrency=args.concurrency,
            sender_batch=args.batch)
        arrivals = Path(tmp) / "arrivals.log"
        catcher = subprocess.Popen(
            [sys.executable, "-m", "devtools.mailcatcher", "--port", str(args.port),
             "--log-only", str(arrivals)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(1.0)  # let the catcher bind its port
            total = record(settings, args.n)
            elapsed, cpu = asyncio.run(drain(settings, total))
            received = sum(1 for _ in arrivals.open()) if arrivals.exists() else 0
        finally:
            catcher.terminate()
            catcher.wait(10)
    rate = total / elapsed
    cpu_ms = cpu / total * 1000
    print(f"sent {total} emails in {elapsed:.2f} s: {rate:.0f} emails/s "
          f"({args.concurrency} connections, batch {args.batch}); sender CPU {cpu_ms:.2f} ms per email "
          f"(so {1000 / cpu_ms:.0f} emails/s per core); the catcher logged {received}")
    print(json.dumps({"emails": total, "seconds": round(elapsed, 3), "emails_per_second": round(rate, 1),
                      "sender_cpu_ms_per_email": round(cpu_ms, 3), "concurrency": args.concurrency,
                      "batch": args.batch, "received": received}))


if __name__ == "__main__":
    main()
