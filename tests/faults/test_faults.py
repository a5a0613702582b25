"""Nothing lost, nothing twice: bursts of sign-ups through the real processes while things break.

Each scenario drives at least 300 sign-ups (every fifth for exempt networks
only) through ``POST /api/v1/signups`` with eight concurrent clients, breaks
one part midway, repairs it, and then checks the same invariants
(:func:`tests.faults.harness.drain_and_check`). Each prints one ``FAULT`` line
and appends it as JSON to ``var/fault-report.jsonl`` (or ``$FAULT_REPORT``).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from faststream.redis.parser.binary import BinaryMessageFormatV1

from devtools.stack import SERVICES
from shared.consumer import dead_letter_stream
from shared.events import INVOICING_STREAM, REGISTRATION_STREAM
from tests.faults.conftest import StackFactory
from tests.faults.harness import Burst, drain_and_check, outbox_backlog
from tests.faults.smtp import FaultySmtpServer

TARGET = 300


def burst_with_a_crash(system: StackFactory, smtp: FaultySmtpServer, scenario: str, victim: str, *,
                       by_message_id: bool = False) -> None:
    """kill -9 ``victim`` a third into the burst, start it again two thirds in."""
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    stack.processes[victim].kill()
    burst.wait_accepted(2 * TARGET // 3)
    stack.processes[victim].start()
    stack.wait_healthy(victim)
    burst.join()
    drain_and_check(scenario, stack, smtp, burst, by_message_id=by_message_id)


def test_invoicing_killed_mid_burst_and_restarted_loses_and_repeats_nothing(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    burst_with_a_crash(system, smtp, "kill-invoicing", "invoicing")


def test_notifications_killed_mid_burst_and_restarted_loses_and_repeats_nothing(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    """Counted by Message-ID: a crash between the server's 250 and the commit that records it.

    No sender can close that window (SMTP and the database cannot commit
    together); an email sent but not recorded is sent again by the next start
    with the same Message-ID, by which the receiving side deduplicates. Two
    DIFFERENT messages to one recipient still fail the test, and the resends
    are reported. A SIGTERM, by contrast, must not resend anything (see below).
    """
    burst_with_a_crash(system, smtp, "kill-notifications", "notifications", by_message_id=True)


def test_registration_killed_while_its_relay_publishes_still_delivers_every_accepted_signup(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 2)
    backlog = outbox_backlog(stack, "registration")
    stack.processes["registration"].kill()
    stack.processes["registration"].start()
    stack.wait_healthy("registration")
    burst.join()
    drain_and_check("kill-registration", stack, smtp, burst, notes={"outbox_backlog_at_kill": backlog})


def test_redis_killed_mid_burst_and_restarted_from_its_aof_loses_and_repeats_nothing(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    stack.processes["redis"].kill()
    time.sleep(2)
    stack.processes["redis"].start()
    burst.join()
    drain_and_check("kill-redis", stack, smtp, burst)


def test_smtp_refusing_connections_for_twenty_seconds_delays_mail_but_loses_none(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    smtp.stop()
    time.sleep(20)
    smtp.start()
    burst.join()
    drain_and_check("smtp-down-20s", stack, smtp, burst)


def test_smtp_dropping_the_connection_before_its_reply_resends_the_same_message_id(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    """The server took the message but the sender never heard so: it must send again.

    That SMTP-level duplicate cannot be avoided by any sender; it carries the
    same Message-ID (stable per event and recipient), by which the receiving
    side deduplicates. So here the counts are of distinct Message-IDs, and no
    recipient may get two different messages.
    """
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    smtp.drop_replies(20)
    burst.join()
    outcome = drain_and_check("smtp-drops-reply", stack, smtp, burst, by_message_id=True,
                              notes={"replies_dropped": smtp.dropped})
    assert smtp.dropped == 20
    assert outcome.notes["smtp_resends"] >= 1, "a message whose reply was lost is sent again"


def test_poison_messages_end_in_dead_letters_and_the_rest_flows(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        for stream in (REGISTRATION_STREAM, INVOICING_STREAM):
            client.xadd(stream, {"garbage": b"\x00\xff not an event"})
            client.xadd(stream, {"__data__": b"\x00\xff not faststream either"})
            invalid = asyncio.run(BinaryMessageFormatV1.encode(
                message=b'{"type": "signup.completed", "version": 1, "event_id": "not-a-uuid"}',
                reply_to=None, headers={"content-type": "application/json"}, correlation_id="poison"))
            client.xadd(stream, {"__data__": invalid})
    finally:
        client.close()
    burst.join()
    # reglab.registration is read by two groups, each of which dead-letters each entry.
    drain_and_check("poison", stack, smtp, burst, expected_dead_letters={
        dead_letter_stream(REGISTRATION_STREAM): 3 * 2, dead_letter_stream(INVOICING_STREAM): 3})


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_one_of_two_instances_killed_leaves_the_other_to_finish_its_work(
        system: StackFactory, smtp: FaultySmtpServer, database: str) -> None:
    stack = system(postgresql=database == "postgresql",
                   extra={"invoicing-2": "invoicing", "notifications-2": "notifications"})
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    stack.processes["invoicing-2"].kill()
    stack.processes["notifications-2"].kill()
    burst.join()
    # By Message-ID, for the reason given for kill-notifications: the killed sender's unrecorded sends.
    assert stack.log_dir is not None
    handled = {name: (stack.log_dir / f"{name}.log").read_text(errors="replace").count("event handled")
               for name in ("invoicing", "invoicing-2", "notifications", "notifications-2")}
    drain_and_check(f"kill-one-of-two-{database}", stack, smtp, burst, by_message_id=True,
                    notes={"events_handled_per_instance": handled})


def test_every_service_stopped_with_sigterm_mid_burst_and_restarted_loses_and_repeats_nothing(
        system: StackFactory, smtp: FaultySmtpServer) -> None:
    stack = system()
    burst = Burst(stack.url("registration"), target=TARGET).start()
    burst.wait_accepted(TARGET // 3)
    codes = {service: stack.processes[service].terminate() for service in SERVICES}
    assert stack.log_dir is not None
    for service in SERVICES:
        log = (stack.log_dir / f"{service}.log").read_text(errors="replace")
        assert "service stopped" in log, f"{service} did not shut down gracefully on SIGTERM"
    for service in SERVICES:
        stack.processes[service].start()
    for service in SERVICES:
        stack.wait_healthy(service)
    burst.join()
    drain_and_check("sigterm-all", stack, smtp, burst, notes={"exit_codes": codes})
