"""Staff alerts without a database: what they say, one per failure batch, never about an alert itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.notifications.alerts import LISTED_IN_ALERT, dead_letter_emails, failure_alert
from services.notifications.domain import retry_delay
from services.notifications.settings import NotificationsSettings
from shared.events import DeadLetterRecorded

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
STAFF = "kansliet@reglab.example"
SENDER = "Reglab <natverk@reglab.example>"


@dataclass(frozen=True)
class Failed:
    id: int = 7
    kind: str = "invoice"
    recipient: str = "faktura@kommun.example"
    subject: str = "Faktura 2018-00001 från Reglab"
    message_id: str = "<x@reglab-natverk>"
    attempts: int = 24
    last_error: str | None = "SMTPDataError: (451, 'try later')"
    source_event_type: str = "invoice.issued"
    source_event_id: str = "8c1e"
    correlation_id: str = "corr-1"


def test_by_default_an_email_is_retried_for_about_an_hour_before_it_is_failed() -> None:
    settings = NotificationsSettings(environment="development")
    waits = range(1, settings.max_attempts)  # the delays between the attempts
    shortest = sum(retry_delay(n, base=settings.retry_base_seconds, ceiling=settings.retry_ceiling_seconds,
                               jitter=0.0) for n in waits)
    longest = sum(retry_delay(n, base=settings.retry_base_seconds, ceiling=settings.retry_ceiling_seconds,
                              jitter=1.0) for n in waits)
    assert settings.max_attempts > 0, "finite by default"
    assert timedelta(minutes=30) <= timedelta(seconds=shortest)
    assert timedelta(seconds=longest) <= timedelta(minutes=90)


def test_a_failed_email_becomes_one_queued_alert_to_staff_naming_it() -> None:
    alert = failure_alert([Failed()], staff_email=STAFF, sender=SENDER, now=NOW)
    assert alert is not None
    assert alert.recipient == STAFF and alert.kind == "mail_failed_alert" and alert.status == "queued"
    assert alert.subject == "E-post kunde inte levereras till faktura@kommun.example"
    assert alert.source_event_type == "email.failed" and alert.correlation_id == "corr-1"
    text = alert.raw.decode()
    assert "Faktura 2018-00001" in text and "451" in text and "Skicka igen" in text


def test_emails_failing_together_are_told_in_one_alert_listing_them() -> None:
    failed = [Failed(id=n, recipient=f"r{n}@kommun.example", correlation_id=f"corr-{n}")
              for n in range(LISTED_IN_ALERT + 3)]
    alert = failure_alert(failed, staff_email=STAFF, sender=SENDER, now=NOW)
    assert alert is not None
    assert alert.subject == f"{LISTED_IN_ALERT + 3} e-postmeddelanden kunde inte levereras"
    text = alert.raw.decode()
    assert "r0@kommun.example" in text and f"r{LISTED_IN_ALERT - 1}@kommun.example" in text
    assert f"r{LISTED_IN_ALERT}@kommun.example" not in text and "och 3 till" in text
    assert alert.correlation_id.startswith("email.failed-")


def test_the_same_failure_gives_the_same_alert_and_a_later_one_a_new_alert() -> None:
    first = failure_alert([Failed()], staff_email=STAFF, sender=SENDER, now=NOW)
    same = failure_alert([Failed()], staff_email=STAFF, sender=SENDER, now=NOW)
    later = failure_alert([Failed()], staff_email=STAFF, sender=SENDER, now=NOW + timedelta(hours=2))
    assert first is not None and same is not None and later is not None
    assert first.source_event_id == same.source_event_id != later.source_event_id
    assert first.message_id == same.message_id


def test_a_failed_alert_raises_no_alert_about_itself() -> None:
    for kind in ("mail_failed_alert", "dead_letter_alert"):
        assert failure_alert([Failed(kind=kind, recipient=STAFF)], staff_email=STAFF, sender=SENDER,
                             now=NOW) is None
    alert = failure_alert([Failed(kind="mail_failed_alert"), Failed(id=8)], staff_email=STAFF,
                          sender=SENDER, now=NOW)
    assert alert is not None and alert.subject.startswith("E-post kunde inte levereras till")


def test_with_no_usable_staff_address_no_alert_is_recorded() -> None:
    assert failure_alert([Failed()], staff_email="inte en adress", sender=SENDER, now=NOW) is None


def test_the_dead_letter_email_tells_how_to_replay_it() -> None:
    event = DeadLetterRecorded(occurred_at=NOW, correlation_id="corr-2", dead_letter_id="1732-0",
                               source_stream="reglab.registration", group="invoicing", entry_id="17-0",
                               error="ValueError: no fee policy for 2019", event_type="signup.completed",
                               source_event_id="ab12")
    [email] = dead_letter_emails(event, staff_email=STAFF)
    assert email.to_address == STAFF and email.subject == "Dött meddelande i invoicing: signup.completed"
    assert "python -m services.invoicing dead-letters replay 1732-0" in email.text
    assert "no fee policy for 2019" in email.text and "/dead-letters" in email.text
