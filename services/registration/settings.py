"""Registration's settings: its database, where it listens, and where extra fee policies live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings


class RegistrationSettings(CommonSettings):
    database_url: str = Field("sqlite:///var/registration.db", validation_alias="REGISTRATION_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="REGISTRATION_HOST")
    port: int = Field(8000, validation_alias="REGISTRATION_PORT")
    # Finance adds a year's policy here without a code change; it overrides a built-in year.
    fee_policy_dir: Path | None = Field(None, validation_alias="FEE_POLICY_DIR")
    # Organisations per transaction in the yearly renewal run.
    renewal_batch_size: int = Field(50, ge=1, le=10_000, validation_alias="RENEWAL_BATCH_SIZE")
