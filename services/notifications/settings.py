"""Settings of the notifications service: its database, HTTP address and how mail is sent."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.settings import CommonSettings


class NotificationsSettings(CommonSettings):
    database_url: str = Field("sqlite:///var/notifications.db", validation_alias="NOTIFICATIONS_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="NOTIFICATIONS_HOST")
    port: int = Field(8002, validation_alias="NOTIFICATIONS_PORT")

    # SMTP connection. Username/password and STARTTLS are for a real relay;
    # the local catcher and Mailpit need neither.
    smtp_username: str = Field("", validation_alias="SMTP_USERNAME")
    smtp_password: str = Field("", validation_alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(False, validation_alias="SMTP_STARTTLS")
    smtp_timeout_seconds: float = Field(10.0, gt=0, validation_alias="SMTP_TIMEOUT_SECONDS")

    # Retries: exponential backoff with jitter, base * 2^(attempt-1), capped.
    retry_base_seconds: float = Field(1.0, gt=0, validation_alias="MAIL_RETRY_BASE_SECONDS")
    retry_ceiling_seconds: float = Field(300.0, gt=0, validation_alias="MAIL_RETRY_CEILING_SECONDS")
    # After this many attempts an email is marked failed (kept, never deleted; staff can
    # send it again) and staff are told. 24 attempts with the defaults above span about
    # an hour (40-80 minutes, by the jitter). 0 keeps retrying for ever.
    max_attempts: int = Field(24, ge=0, validation_alias="MAIL_MAX_ATTEMPTS")

    # Sender: how many SMTP connections send in parallel, how many emails one
    # database round-trip claims, and how often it looks for due emails
    # when no consumer has woken it.
    sender_concurrency: int = Field(4, ge=1, validation_alias="MAIL_SENDER_CONCURRENCY")
    sender_batch: int = Field(200, ge=1, validation_alias="MAIL_SENDER_BATCH")
    sender_poll_seconds: float = Field(1.0, gt=0, validation_alias="MAIL_SENDER_POLL_SECONDS")
    # A claimed email is left alone by other instances for this long; if its
    # sender dies mid-batch, another instance picks the email up afterwards.
    claim_lease_seconds: float = Field(120.0, gt=0, validation_alias="MAIL_CLAIM_LEASE_SECONDS")

    # Reminders (services/notifications/reminders): how often the scheduler records due
    # reminders and queues them, and how many ledger rows one transaction handles.
    reminder_poll_seconds: float = Field(30.0, gt=0, validation_alias="REMINDER_POLL_SECONDS")
    reminder_batch: int = Field(200, ge=1, validation_alias="REMINDER_BATCH")
    # The staff digest lists meetings with fewer registered than this share of capacity
    # when their registration deadline is within 14 days.
    digest_few_signups_share: float = Field(0.3, ge=0, le=1, validation_alias="DIGEST_FEW_SIGNUPS_SHARE")
    # Overrides every built-in reminder rule's effective-from date (nothing due before it is
    # ever sent). For tests on real processes that move the clock to another year; unset,
    # each rule keeps the date it was introduced.
    reminders_effective_from: AwareDatetime | None = Field(None, validation_alias="REMINDERS_EFFECTIVE_FROM")
