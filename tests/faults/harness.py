"""The fault suite's burst driver and its one invariant checker.

:class:`Burst` posts sign-ups from worker threads until ``target`` were
accepted (201), in the background, so a test can break something midway.
:func:`drain_and_check` waits (bounded) for the system to settle, then checks
the same invariants after every scenario and returns the measurements:

- every sign-up registration holds has exactly its memberships, and every
  accepted one is there (a request that failed may still have committed: it
  must then flow like an accepted one);
- one invoice per sign-up with a fee, none for the rest, numbers unique and
  gap-free;
- one confirmation to each contact, one invoice email to each invoice address
  with a fee, one finance copy per invoice, nothing else;
- nothing pending in any consumer group, nothing in dead letters beyond what
  the scenario put there.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import text

from devtools.bench import FEE_LIABLE, signup_payload
from devtools.stack import Stack
from shared.consumer import dead_letter_stream
from shared.db import make_engine
from shared.events import ALL_STREAMS, INVOICING_STREAM, OPERATIONS_STREAM, REGISTRATION_STREAM
from tests.faults.smtp import FaultySmtpServer, Received

API_TOKEN = "fault-token-0123456789abcdef"
FINANCE = "ekonomi@faults.example"
RUN = "f"
# (stream, group) pairs that must end with nothing pending.
GROUPS = ((REGISTRATION_STREAM, "invoicing"), (REGISTRATION_STREAM, "notifications"),
          (INVOICING_STREAM, "notifications"), (OPERATIONS_STREAM, "notifications"))
STAFF = "kansliet@faults.example"
SUMMARY: list[str] = []  # the FAULT lines of this session, shown at its end
REPORT = Path(os.environ.get("FAULT_REPORT")
              or Path(__file__).resolve().parents[2] / "var" / "fault-report.jsonl")


def fee_networks(i: int) -> list[str]:
    return [code for code in signup_payload(i, RUN)["networks"] if code in FEE_LIABLE]


def index_of(org_number: str) -> int:
    """Inverse of ``devtools.bench.org_number``: ``556`` + six digits of i + a check digit."""
    return int(org_number[3:9])


class Burst:
    """Sign-ups posted by ``concurrency`` threads until ``target`` are accepted.

    A request that fails (refused connection, 5xx, timeout) is not accepted; its
    worker pauses briefly and goes on with the next sign-up, so a registration
    outage does not burn through the indices.
    """

    def __init__(self, url: str, *, target: int = 300, concurrency: int = 8,
                 max_attempts: int | None = None) -> None:
        self.url = url
        self.target = target
        self.concurrency = concurrency
        self.max_attempts = max_attempts or 3 * target
        self.accepted: dict[int, dict[str, Any]] = {}
        self.failed: dict[int, str] = {}
        self._indices = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.started = self.finished = 0.0

    def start(self) -> Burst:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="burst", daemon=True)
        self._thread.start()
        return self

    def _next(self) -> int | None:
        with self._lock:
            if len(self.accepted) >= self.target:
                return None
            i = next(self._indices)
            return i if i <= self.max_attempts else None

    def _run(self) -> None:
        with ThreadPoolExecutor(self.concurrency) as pool:
            for _ in range(self.concurrency):
                pool.submit(self._worker)
        self.finished = time.monotonic()

    def _worker(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while (i := self._next()) is not None:
                try:
                    answer = client.post("/api/v1/signups", json=signup_payload(i, RUN))
                except httpx.HTTPError as error:
                    outcome: dict[str, Any] | str = f"{error.__class__.__name__}: {error}"
                else:
                    outcome = answer.json() if answer.status_code == 201 else \
                        f"HTTP {answer.status_code}: {answer.text[:200]}"
                with self._lock:
                    if isinstance(outcome, dict):
                        self.accepted[i] = outcome
                    else:
                        self.failed[i] = outcome
                if not isinstance(outcome, dict):
                    time.sleep(0.2)

    def wait_accepted(self, count: int, timeout: float = 60.0) -> None:
        """Block until ``count`` sign-ups were accepted (mid-burst is where faults happen)."""
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.accepted)} of {count} sign-ups accepted after {timeout} s")
            time.sleep(0.02)

    def join(self, timeout: float = 120.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the burst did not finish in {timeout} s"
        assert len(self.accepted) >= self.target, (
            f"{len(self.accepted)} accepted of {self.target}; failures: {list(self.failed.values())[:5]}")


@dataclass
class Expected:
    """What the system must end with, derived from what registration holds."""

    signups: dict[int, list[str]]  # index -> network codes, as registered
    with_fee: set[int]
    alerts: int  # staff alerts: one per dead letter

    @property
    def emails(self) -> int:
        return len(self.signups) + 2 * len(self.with_fee) + self.alerts


@dataclass
class Outcome:
    scenario: str
    accepted: int
    committed_unacknowledged: int
    invoices: int
    emails: int
    duplicates: int
    lost: int
    drain_seconds: float
    dead_letters: dict[str, int]
    notes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"FAULT {self.scenario}: accepted={self.accepted} invoices={self.invoices} "
                f"emails={self.emails} duplicates={self.duplicates} lost={self.lost} "
                f"drain={self.drain_seconds:.1f}s smtp_resends={self.notes.get('smtp_resends', 0)}")


def database_url(stack: Stack, service: str) -> str:
    return stack.database_urls.get(service, f"sqlite:///{stack.var_dir}/{service}.db")


def registered(stack: Stack) -> dict[int, list[str]]:
    """Every sign-up of this run in registration's database, with its memberships' network codes."""
    engine = make_engine(database_url(stack, "registration"), pool_size=1)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT o.org_number, n.code FROM reg_organisation o "
                "LEFT JOIN reg_membership m ON m.organisation_id = o.id "
                "LEFT JOIN reg_network n ON n.id = m.network_id")).all()
    finally:
        engine.dispose()
    signups: dict[int, list[str]] = {}
    for org_number, code in rows:
        signups.setdefault(index_of(org_number), [])
        if code is not None:
            signups[index_of(org_number)].append(code)
    return signups


def outbox_backlog(stack: Stack, service: str) -> int:
    engine = make_engine(database_url(stack, service), pool_size=1)
    try:
        with engine.connect() as connection:
            return int(connection.execute(
                text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one())
    finally:
        engine.dispose()


def invoices(stack: Stack) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.url('invoicing')}/api/v1/invoices", params={"limit": 10_000},
                       headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def pending(client: redis.Redis) -> dict[str, int]:
    counts = {}
    for stream, group in GROUPS:
        summary: Any = client.xpending(stream, group)
        counts[f"{stream}/{group}"] = int(summary["pending"])
    return counts


def dead_letters(client: redis.Redis) -> dict[str, int]:
    return {dead_letter_stream(stream): int(client.xlen(dead_letter_stream(stream)))
            for stream in ALL_STREAMS}


def drain_and_check(scenario: str, stack: Stack, smtp: FaultySmtpServer, burst: Burst, *,
                    expected_dead_letters: dict[str, int] | None = None, by_message_id: bool = False,
                    deadline: float = 120.0, quiet: float = 3.0,
                    notes: dict[str, Any] | None = None) -> Outcome:
    """Wait until everything arrived and nothing is pending (bounded), then check every invariant.

    ``by_message_id`` counts distinct Message-IDs instead of raw messages: for
    the scenario where the SMTP server takes a message and drops the reply,
    the sender cannot know it arrived and must send it again (same Message-ID).
    The outcome is printed and appended to the report before anything is
    asserted, so a failing run is on record too.
    """
    settled_at = burst.finished or time.monotonic()
    truth = registered(stack)
    expected_dead_letters = expected_dead_letters or {}
    expected = Expected(signups=truth, with_fee={i for i in truth if fee_networks(i)},
                        alerts=sum(expected_dead_letters.values()))
    client = redis.Redis.from_url(stack.redis_url)
    try:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if (len(distinct(smtp.received, by_message_id)) >= expected.emails
                    and not any(pending(client).values())):
                break
            time.sleep(0.25)
        drain = time.monotonic() - settled_at
        time.sleep(quiet)  # a duplicate would arrive now
        outcome = check(scenario, stack, smtp, burst, expected, client, drain=drain,
                        expected_dead_letters=expected_dead_letters, by_message_id=by_message_id)
    finally:
        client.close()
    outcome.notes.update(notes or {})
    print(outcome.line())
    SUMMARY.append(outcome.line())
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as report:
        report.write(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S"), **asdict(outcome)}) + "\n")
    assert not outcome.problems, "\n".join(outcome.problems[:40])
    return outcome


def distinct(received: list[Received], by_message_id: bool) -> list[Received]:
    if not by_message_id:
        return received
    return list({message.message_id: message for message in received}.values())


def check(scenario: str, stack: Stack, smtp: FaultySmtpServer, burst: Burst, expected: Expected,
          client: redis.Redis, *, drain: float, expected_dead_letters: dict[str, int],
          by_message_id: bool) -> Outcome:
    problems: list[str] = []
    lost = duplicates = 0

    # Registration: every accepted sign-up is there with exactly its memberships.
    for i, answer in sorted(burst.accepted.items()):
        wanted = sorted(signup_payload(i, RUN)["networks"])
        answered = sorted(m["network"] for m in answer["memberships"])
        held = sorted(expected.signups.get(i, []))
        if i not in expected.signups:
            lost += 1
            problems.append(f"sign-up {i} was accepted but registration does not hold it")
        elif held != wanted or answered != wanted:
            problems.append(f"sign-up {i}: memberships {held}, answered {answered}, wanted {wanted}")
    for i in expected.signups:
        if sorted(expected.signups[i]) != sorted(signup_payload(i, RUN)["networks"]):
            problems.append(f"sign-up {i}: registration holds {expected.signups[i]}")

    # Invoicing: one invoice per sign-up with a fee, for exactly its fee-liable networks.
    issued = invoices(stack)
    per_org = Counter(index_of(invoice["buyer"]["org_number"].replace("-", "")) for invoice in issued)
    for i in expected.signups:
        want = 1 if i in expected.with_fee else 0
        got = per_org.get(i, 0)
        if got != want:
            problems.append(f"sign-up {i}: {got} invoices, wanted {want}")
            lost += max(0, want - got)
            duplicates += max(0, got - want)
    for invoice in issued:
        i = index_of(invoice["buyer"]["org_number"].replace("-", ""))
        if i not in expected.signups:
            problems.append(f"invoice {invoice['number']} for an unknown organisation {i}")
        elif sorted(line["network"] for line in invoice["lines"]) != sorted(fee_networks(i)):
            problems.append(f"invoice {invoice['number']} lines {invoice['lines']} for sign-up {i}")
    numbers = [invoice["number"] for invoice in issued]
    if len(set(numbers)) != len(numbers):
        problems.append(f"invoice numbers repeat: {[n for n, c in Counter(numbers).items() if c > 1]}")
    sequence = sorted(int(number.rsplit("-", 1)[-1]) for number in numbers)
    if sequence and sequence != list(range(sequence[0], sequence[0] + len(sequence))):
        problems.append(f"invoice numbers have gaps: {sequence[:5]}...{sequence[-5:]}")

    # Email: one confirmation per contact, one invoice per invoice address with a fee, one copy per invoice.
    received = smtp.received
    counted = distinct(received, by_message_id)
    per_address = Counter(recipient for message in counted for recipient in message.rcpt_tos)
    finance_subjects = Counter(message.subject for message in counted if FINANCE in message.rcpt_tos)
    for i in expected.signups:
        payload = signup_payload(i, RUN)
        contact = payload["contact"]["email"]
        billing = payload["organisation"]["invoice_email"]
        for address, want in ((contact, 1), (billing, 1 if i in expected.with_fee else 0)):
            got = per_address.pop(address, 0)
            if got != want:
                ids = {m.message_id for m in received if address in m.rcpt_tos}
                problems.append(f"{address}: {got} emails ({len(ids)} Message-IDs), wanted {want}")
                lost += max(0, want - got)
                duplicates += max(0, got - want)
    copies = per_address.pop(FINANCE, 0)
    # Staff get one alert per dead letter, and none otherwise (no email failed for good).
    alerts = per_address.pop(STAFF, 0)
    if alerts != sum(expected_dead_letters.values()):
        problems.append(f"staff got {alerts} alerts for {sum(expected_dead_letters.values())} dead letters")
    for number in numbers:
        got = sum(count for subject, count in finance_subjects.items() if f" {number} " in subject)
        if got != 1:
            problems.append(f"finance has {got} copies of invoice {number}")
            lost += max(0, 1 - got)
            duplicates += max(0, got - 1)
    if copies != len(numbers):
        problems.append(f"finance has {copies} copies for {len(numbers)} invoices")
    for address, count in per_address.items():
        problems.append(f"{count} emails to {address}, which no sign-up gave")
        duplicates += count
    # With ``by_message_id`` the counts above are of distinct Message-IDs: an SMTP-level
    # resend of the same message is allowed, two DIFFERENT messages to one recipient are not.

    # Redis: nothing left pending, nothing dead-lettered that the scenario did not put there.
    left = pending(client)
    problems += [f"{count} entries still pending in {key}" for key, count in left.items() if count]
    dead = dead_letters(client)
    for stream, count in dead.items():
        if count != expected_dead_letters.get(stream, 0):
            problems.append(f"{stream} holds {count} entries, wanted {expected_dead_letters.get(stream, 0)}")

    return Outcome(
        scenario=scenario, accepted=len(burst.accepted),
        committed_unacknowledged=len(set(expected.signups) - set(burst.accepted)),
        invoices=len(issued), emails=len(received), duplicates=duplicates, lost=lost,
        drain_seconds=round(drain, 1), dead_letters=dead,
        notes={"expected_emails": expected.emails, "distinct_emails": len(counted),
               "smtp_resends": len(received) - len(counted),
               "failed_requests": len(burst.failed),
               "burst_seconds": round(burst.finished - burst.started, 1)},
        problems=problems,
    )
