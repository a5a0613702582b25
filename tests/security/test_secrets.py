"""Secrets: production refuses the defaults (development and test runs on loopback accept them)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.registration.settings import RegistrationSettings
from shared.settings import DEV_SECRET, DEV_TOKEN

STRONG = {"secret_key": "s" * 40, "api_token": "t" * 40, "admin_password": "p" * 20}


@pytest.mark.parametrize("field, variable", [("secret_key", "REGLAB_SECRET_KEY"),
                                              ("api_token", "REGLAB_API_TOKEN"),
                                              ("admin_password", "REGLAB_ADMIN_PASSWORD")])
@pytest.mark.parametrize("weak", [DEV_SECRET, DEV_TOKEN, "kort"])
def test_production_refuses_a_default_or_short_secret_and_names_the_variable(
        field: str, variable: str, weak: str) -> None:
    with pytest.raises(ValidationError, match=variable) as refused:
        RegistrationSettings(environment="production", **{**STRONG, field: weak})  # type: ignore[arg-type]
    message = str(refused.value)
    for secret in (weak, *STRONG.values()):
        assert secret not in message.replace(variable, ""), "no secret is echoed in the error"


def test_production_starts_with_real_secrets_and_development_and_test_with_the_defaults() -> None:
    assert RegistrationSettings(environment="production", **STRONG).secret_key == "s" * 40  # type: ignore[arg-type]
    assert RegistrationSettings(environment="development").secret_key == DEV_SECRET
    assert RegistrationSettings(environment="test").api_token == DEV_TOKEN
