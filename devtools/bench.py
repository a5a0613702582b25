"""``make bench``: sign-ups driven through the running system, on real Redis and SMTP.

Starts the whole stack (the same processes as ``make run``, on fresh SQLite
files in a temporary directory), then:

1. a burst of N sign-ups (default 1,000) through ``POST /api/v1/signups``, a mix
   of fee-liable and exempt networks, measured until the last email arrives;
2. a steady 20 sign-ups per second, where nothing queues, for latency;
3. the median time to render one invoice PDF;
4. as the ceiling, a bare redis-py XADD → XREADGROUP → XACK loop on the same Redis.

The SMTP server is a separate process that logs each message's arrival time and
recipients. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from stdnum import luhn

from devtools.stack import SERVICES, Stack

FEE_LIABLE = ("ung-region", "rus", "fysisk-planering", "integration")
EXEMPT = ("analytiker", "kompetensforsorjning", "utvardering", "smart-specialisering")
FINANCE = "ekonomi@bench.example"


def org_number(i: int) -> str:
    base = f"556{i:06d}"
    return base + luhn.calc_check_digit(base)


def signup_payload(i: int, run: str) -> dict[str, Any]:
    """Every fifth sign-up is for exempt networks only: no invoice, one email."""
    if i % 5 == 0:
        networks = [EXEMPT[i % len(EXEMPT)]]
    else:
        networks = [FEE_LIABLE[i % len(FEE_LIABLE)], FEE_LIABLE[(i + 1) % len(FEE_LIABLE)]]
        if i % 3 == 0:
            networks.append(EXEMPT[i % len(EXEMPT)])
    return {
        "organisation": {
            "name": f"Benchkommun {i}",
            "org_number": org_number(i),
            "invoice_email": f"faktura-{run}-{i}@bench.example",
            "address": {"street": f"Storgatan {i}", "postal_code": "111 22", "city": "Stockholm"},
            "buyer_reference": f"REF-{i}",
        },
        "contact": {"name": f"Kontakt {i}", "email": f"kontakt-{run}-{i}@bench.example"},
        "networks": networks,
        "year": 2018,
    }


def has_fee(i: int) -> bool:
    return i % 5 != 0


@dataclass
class Arrivals:
    """Reads the catcher's log: ``<time> <recipient,...>`` per message."""

    path: Path
    offset: int = 0
    first_seen: dict[str, float] = field(default_factory=dict)
    count: int = 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open() as log:
            log.seek(self.offset)
            for line in log:
                if not line.endswith("\n"):
                    break
                self.offset += len(line.encode())
                stamp, _, recipients = line.strip().partition(" ")
                for recipient in recipients.split(","):
                    self.first_seen.setdefault(recipient, float(stamp))
                self.count += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class KeepAliveClient:
    """A minimal HTTP/1.1 client on one keep-alive connection, for the load generator only.

    httpx cost about 4.5 ms of CPU per request here, as much as the registration
    service itself, on the same two cores the system is measured on; this costs
    a fraction of that. It understands what uvicorn answers: a Content-Length body.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self._writer.write(head.encode() + body)
        status = int((await self._reader.readline()).split()[1])
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected from the sign-up API")
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


async def post_signups(url: str, indices: list[int], run: str, *, concurrency: int,
                       rate: float | None = None) -> dict[int, float]:
    """POST each sign-up; returns when each was sent. With ``rate``, paces them evenly."""
    sent: dict[int, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in indices:
        queue.put_nowait(i)
    start = time.time()
    address = httpx.URL(url)
    assert address.port is not None

    async def worker() -> None:
        client = KeepAliveClient(address.host, address.port or 80)
        try:
            while not queue.empty():
                i = queue.get_nowait()
                if rate is not None:
                    due = start + indices.index(i) / rate
                    await asyncio.sleep(max(0.0, due - time.time()))
                sent[i] = time.time()
                status, answer = await client.post_json("/api/v1/signups",
                                                        json.dumps(signup_payload(i, run)).encode())
                if status != 201:
                    raise RuntimeError(f"sign-up {i} refused: {status} {answer[:300]!r}")
        finally:
            await client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def wait_for_mail(arrivals: Arrivals, expected: set[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals.poll()
        if expected <= arrivals.first_seen.keys():
            return True
        time.sleep(0.05)
    return False


def expected_recipients(indices: list[int], run: str) -> set[str]:
    wanted = {f"kontakt-{run}-{i}@bench.example" for i in indices}
    wanted |= {f"faktura-{run}-{i}@bench.example" for i in indices if has_fee(i)}
    return wanted


def latencies(indices: list[int], sent: dict[int, float], arrivals: Arrivals, run: str) -> list[float]:
    """POST to the invoice email (or the confirmation, when no fee is due), in ms."""
    result = []
    for i in indices:
        key = f"faktura-{run}-{i}@bench.example" if has_fee(i) else f"kontakt-{run}-{i}@bench.example"
        if key in arrivals.first_seen:
            result.append((arrivals.first_seen[key] - sent[i]) * 1000)
    return result


def peak_rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def redis_roundtrip_per_s(url: str, seconds: float = 2.0) -> float:
    client = redis.Redis.from_url(url)
    stream, group = "bench.ceiling", "bench"
    client.delete(stream)
    client.xgroup_create(stream, group, id="0", mkstream=True)
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        client.xadd(stream, {"data": b"x" * 200})
        entries: Any = client.xreadgroup(group, "bench-1", {stream: ">"}, count=1)
        entry_id = entries[0][1][0][0]
        client.xack(stream, group, entry_id)
        count += 1
    elapsed = time.perf_counter() - start
    client.delete(stream)
    client.close()
    return round(count / elapsed, 1)


def pdf_median_ms() -> float:
    from services.invoicing.pdf import median_render_ms

    return round(median_render_ms(200), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="sign-ups in the burst")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--steady-rate", type=float, default=20.0)
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="reglab-bench-"))
    mail_log = workdir / "mail-arrivals.log"
    stack = Stack(var_dir=workdir, mail_log_only=mail_log, log_dir=workdir / "logs",
                  extra_env={"FINANCE_EMAIL": FINANCE, "LOG_LEVEL": "WARNING",
                             # one client address sends every sign-up: no per-address limit here
                             "SIGNUP_RATE_LIMIT": "0"})
    print(f"starting the system in {workdir} …", flush=True)
    stack.start()
    try:
        result = run_bench(stack, mail_log, args)
    finally:
        stack.stop()
    print(json.dumps(result))


def run_bench(stack: Stack, mail_log: Path, args: argparse.Namespace) -> dict[str, Any]:
    arrivals = Arrivals(mail_log)
    url = stack.url("registration")

    # Warm-up: a few sign-ups so connections, compilers and caches are ready.
    warm = list(range(1, 6))
    asyncio.run(post_signups(url, warm, "warm", concurrency=5))
    wait_for_mail(arrivals, expected_recipients(warm, "warm"), 60)

    n = args.n
    burst = list(range(100_000, 100_000 + n))
    print(f"burst: {n} sign-ups, {args.concurrency} at a time …", flush=True)
    watched = {name: process.pid for name, process in stack.processes.items()}
    watched["bench-driver"] = os.getpid()
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    t0 = time.time()
    sent = asyncio.run(post_signups(url, burst, "burst", concurrency=args.concurrency))
    intake_s = time.time() - t0
    expected = expected_recipients(burst, "burst")
    drained = wait_for_mail(arrivals, expected, timeout=120 + n / 10)
    last = max((arrivals.first_seen[r] for r in expected if r in arrivals.first_seen), default=time.time())
    burst_lat = latencies(burst, sent, arrivals, "burst")
    cpu_ms = {name: round((cpu_seconds(pid) - cpu_before[name]) * 1000 / n, 2)
              for name, pid in watched.items()}
    print(f"  CPU ms per sign-up: {cpu_ms}", flush=True)
    if not drained:
        print(f"WARNING: {len(expected - arrivals.first_seen.keys())} emails never arrived", flush=True)
    print(f"  intake {n / intake_s:.1f}/s, end to end {n / (last - t0):.1f}/s, "
          f"p50 {percentile(burst_lat, 0.5):.0f} ms, p99 {percentile(burst_lat, 0.99):.0f} ms", flush=True)

    steady_n = int(args.steady_rate * args.steady_seconds)
    steady = list(range(200_000, 200_000 + steady_n))
    print(f"steady: {args.steady_rate:.0f} sign-ups/s for {args.steady_seconds:.0f} s …", flush=True)
    steady_sent = asyncio.run(post_signups(url, steady, "steady", concurrency=8, rate=args.steady_rate))
    wait_for_mail(arrivals, expected_recipients(steady, "steady"), timeout=120)
    steady_lat = latencies(steady, steady_sent, arrivals, "steady")
    print(f"  p50 {percentile(steady_lat, 0.5):.0f} ms, "
          f"p99 {percentile(steady_lat, 0.99):.0f} ms", flush=True)

    rss = {s: peak_rss_mb(stack.processes[s].pid) for s in SERVICES}
    print(f"peak RSS (MB): {rss}", flush=True)
    pdf_ms = pdf_median_ms()
    print(f"invoice PDF, median render: {pdf_ms} ms", flush=True)
    ceiling = redis_roundtrip_per_s(stack.redis_url)
    print(f"ceiling: bare XADD→XREADGROUP→XACK {ceiling}/s", flush=True)
    return {
        "n": n,
        "signups_per_s": round(n / (last - t0), 1),
        "intake_per_s": round(n / intake_s, 1),
        "e2e_p50_ms": round(percentile(burst_lat, 0.5), 1),
        "e2e_p99_ms": round(percentile(burst_lat, 0.99), 1),
        "steady_p50_ms": round(percentile(steady_lat, 0.5), 1),
        "steady_p99_ms": round(percentile(steady_lat, 0.99), 1),
        "pdf_ms": pdf_ms,
        "redis_roundtrip_per_s": ceiling,
        "rss_mb": rss,
        "cpu_ms_per_signup": cpu_ms,
        "lost_emails": len(expected - arrivals.first_seen.keys()),
    }


if __name__ == "__main__":
    main()
