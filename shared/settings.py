"""Settings every service shares, read from the environment (see the README's table)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-secret-change-me"
DEV_TOKEN = "dev-token-change-me"


class CommonSettings(BaseSettings):
    # hide_input_in_errors: a refused setting must not print the environment's secrets in the error.
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    # development: one machine, example values allowed. test (a shared test or staging
    # installation) and production run behind HTTPS on real secrets; production also
    # refuses the test aids (REGLAB_CLOCK_FILE, BgMax test files) and example business data.
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias="REGLAB_ENV"
    )
    redis_url: str = Field("redis://127.0.0.1:6380/0", validation_alias="REDIS_URL")
    smtp_host: str = Field("127.0.0.1", validation_alias="SMTP_HOST")
    smtp_port: int = Field(1025, validation_alias="SMTP_PORT")
    mail_from: str = Field("Reglab <natverk@reglab.example>", validation_alias="MAIL_FROM")
    finance_email: str = Field("ekonomi@reglab.example", validation_alias="FINANCE_EMAIL")
    staff_email: str = Field("kansliet@reglab.example", validation_alias="STAFF_EMAIL")
    api_token: str = Field(DEV_TOKEN, validation_alias="REGLAB_API_TOKEN")
    admin_user: str = Field("admin", validation_alias="REGLAB_ADMIN_USER")
    admin_password: str = Field(DEV_TOKEN, validation_alias="REGLAB_ADMIN_PASSWORD")
    secret_key: str = Field(DEV_SECRET, validation_alias="REGLAB_SECRET_KEY")
    # Where people reach the registration service: emailed links (meeting sign-up, unsubscribe) start here.
    registration_public_url: str = Field("http://127.0.0.1:8000", validation_alias="REGISTRATION_PUBLIC_URL")
    # Where staff reach the other services: the privacy page links to their exports.
    invoicing_public_url: str = Field("http://127.0.0.1:8001", validation_alias="INVOICING_PUBLIC_URL")
    notifications_public_url: str = Field("http://127.0.0.1:8002",
                                          validation_alias="NOTIFICATIONS_PUBLIC_URL")
    # Tests on real processes move time by writing an ISO timestamp to this file (see shared/clock.py).
    clock_file: Path | None = Field(None, validation_alias="REGLAB_CLOCK_FILE")
    var_dir: Path = Field(Path("var"), validation_alias="REGLAB_VAR_DIR")
    log_format: Literal["console", "json"] = Field("console", validation_alias="LOG_FORMAT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Consumers read at most this many entries per XREADGROUP, so one process
    # never hoards the backlog in its pending list.
    consumer_batch: int = Field(50, validation_alias="CONSUMER_BATCH")
    # An entry pending this long is taken over by the group's reclaimer; keep it
    # well above the slowest handler, or work in progress is claimed twice.
    reclaim_idle_ms: int = Field(30_000, validation_alias="RECLAIM_IDLE_MS")
    # How often a stopped subscriber (e.g. its group lost in Redis) is restarted.
    subscriber_watchdog_seconds: float = Field(2.0, gt=0, validation_alias="SUBSCRIBER_WATCHDOG_SECONDS")
    # After this many deliveries an entry goes to the dead-letter stream.
    max_deliveries: int = Field(5, validation_alias="MAX_DELIVERIES")
    # Stream entries every group has acked are trimmed after this many days.
    stream_retention_days: float = Field(7.0, validation_alias="STREAM_RETENTION_DAYS")
    stream_retention_interval_seconds: float = Field(
        3600.0, validation_alias="STREAM_RETENTION_INTERVAL_SECONDS")
    # Published outbox rows (whole event payloads, personal data included) are deleted after this many days.
    outbox_retention_days: float = Field(7.0, ge=0, validation_alias="OUTBOX_RETENTION_DAYS")
    relay_batch: int = Field(200, validation_alias="OUTBOX_RELAY_BATCH")
    relay_poll_seconds: float = Field(0.5, validation_alias="OUTBOX_RELAY_POLL_SECONDS")
    # Security (README "Security"): sessions, rate limits, lock-outs, body limits. A limit of 0 is no limit.
    session_max_age_seconds: int = Field(8 * 3600, gt=0, validation_alias="SESSION_MAX_AGE_SECONDS")
    signup_rate_limit: int = Field(20, ge=0, validation_alias="SIGNUP_RATE_LIMIT")
    signup_rate_window_seconds: int = Field(600, gt=0, validation_alias="SIGNUP_RATE_WINDOW_SECONDS")
    login_rate_limit: int = Field(30, ge=0, validation_alias="LOGIN_RATE_LIMIT")
    login_rate_window_seconds: int = Field(600, gt=0, validation_alias="LOGIN_RATE_WINDOW_SECONDS")
    login_max_failures_per_user: int = Field(5, ge=0, validation_alias="LOGIN_MAX_FAILURES_PER_USER")
    login_max_failures_per_address: int = Field(20, ge=0, validation_alias="LOGIN_MAX_FAILURES_PER_ADDRESS")
    login_lockout_seconds: int = Field(900, gt=0, validation_alias="LOGIN_LOCKOUT_SECONDS")
    login_failure_delay_seconds: float = Field(0.5, ge=0, validation_alias="LOGIN_FAILURE_DELAY_SECONDS")
    max_body_bytes: int = Field(1_000_000, gt=0, validation_alias="MAX_BODY_BYTES")
    max_upload_bytes: int = Field(20_000_000, gt=0, validation_alias="MAX_UPLOAD_BYTES")
    # Path prefixes whose requests may carry up to MAX_UPLOAD_BYTES (finance's BgMax file import).
    upload_paths: list[str] = Field(["/payments/import", "/api/v1/payments/bgmax"],
                                    validation_alias="UPLOAD_PATHS")

    @property
    def deployed(self) -> bool:
        """Outside development: cookies are Secure (HTTPS in front) and secrets must be real."""
        return self.environment != "development"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> CommonSettings:
        if self.deployed:
            for name, value in (
                ("REGLAB_SECRET_KEY", self.secret_key),
                ("REGLAB_API_TOKEN", self.api_token),
                ("REGLAB_ADMIN_PASSWORD", self.admin_password),
            ):
                if value in (DEV_SECRET, DEV_TOKEN) or len(value) < 16:
                    raise ValueError(f"{name} must be set to a secret of 16+ characters "
                                     f"outside development (REGLAB_ENV={self.environment})")
        if self.environment == "production":
            for name, address in (("MAIL_FROM", self.mail_from), ("FINANCE_EMAIL", self.finance_email),
                                  ("STAFF_EMAIL", self.staff_email)):
                if is_example_address(address):
                    raise ValueError(f"{name} is an example address ({address}); set the real one "
                                     "in production")
        return self


def is_example_address(address: str) -> bool:
    """The defaults use the reserved .example domain (RFC 2606), which no mail reaches."""
    return address.rstrip("> ").lower().endswith(".example")
