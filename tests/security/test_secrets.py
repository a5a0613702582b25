"""Secrets and example values: outside development the defaults are refused.

Development (one machine, loopback) runs on the defaults. A test or staging
installation and production run on real secrets; production also refuses the
example mail addresses, so nothing is mailed to the reserved .example domain.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.registration.settings import RegistrationSettings
from shared.settings import DEV_SECRET, DEV_TOKEN

STRONG: dict[str, Any] = {"secret_key": "s" * 40, "api_token": "t" * 40, "admin_password": "p" * 20}
REAL_ADDRESSES: dict[str, Any] = {"mail_from": "Reglab <natverk@reglab.se>",
                                  "finance_email": "ekonomi@reglab.se", "staff_email": "kansliet@reglab.se"}


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("field, variable", [("secret_key", "REGLAB_SECRET_KEY"),
                                              ("api_token", "REGLAB_API_TOKEN"),
                                              ("admin_password", "REGLAB_ADMIN_PASSWORD")])
@pytest.mark.parametrize("weak", [DEV_SECRET, DEV_TOKEN, "kort"])
def test_outside_development_a_default_or_short_secret_is_refused_and_the_variable_named(
        environment: str, field: str, variable: str, weak: str) -> None:
    with pytest.raises(ValidationError, match=variable) as refused:
        RegistrationSettings(**{**REAL_ADDRESSES, **STRONG, "environment": environment, field: weak})
    message = str(refused.value)
    for secret in (weak, *STRONG.values()):
        assert secret not in message.replace(variable, ""), "no secret is echoed in the error"


@pytest.mark.parametrize("field, variable", [("mail_from", "MAIL_FROM"), ("finance_email", "FINANCE_EMAIL"),
                                              ("staff_email", "STAFF_EMAIL")])
def test_production_refuses_an_example_mail_address(field: str, variable: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        RegistrationSettings(**{**REAL_ADDRESSES, **STRONG, "environment": "production",
                                field: "Reglab <kansliet@reglab.example>"})


def test_real_secrets_start_outside_development_and_development_starts_with_the_defaults() -> None:
    production = RegistrationSettings(**{**REAL_ADDRESSES, **STRONG, "environment": "production"})
    assert production.secret_key == "s" * 40 and production.deployed
    staging = RegistrationSettings(**{**STRONG, "environment": "test"})
    assert staging.deployed and staging.staff_email == "kansliet@reglab.example"
    development = RegistrationSettings(environment="development")
    assert development.secret_key == DEV_SECRET and development.api_token == DEV_TOKEN
    assert not development.deployed
