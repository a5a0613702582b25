"""A broken ``<year>.toml`` in FEE_POLICY_DIR stops both services at start, naming the file and the problem.

The refusal comes before the runtime exists, so not even the tables are created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from services.invoicing.app import create_app as create_invoicing_app
from services.registration.app import create_app as create_registration_app
from services.registration.settings import RegistrationSettings
from shared.db import make_engine
from shared.policy import PolicyError
from tests.support.invoicing import invoicing_settings
from tests.support.servers import RedisServer

TYPO = 'year = 2020\nfe = "4000.00"\n'
UNKNOWN_NETWORK = 'year = 2020\nfee = "4000.00"\n[[exemptions]]\nnetwork = "okänt"\nreason = "Nytt"\n'


def policy_dir(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "2020.toml").write_text(text, encoding="utf-8")
    return directory


def tables_in(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(("text", "problem"), [
    (TYPO, "fee: is missing; fe: is not a policy setting (a typo?)"),
    (UNKNOWN_NETWORK, "exemptions: unknown network code(s) okänt"),
])
def test_registration_refuses_to_start_with_a_broken_policy_file_and_writes_nothing(
        tmp_path: Path, database_url: str, redis_server: RedisServer, text: str, problem: str) -> None:
    directory = policy_dir(tmp_path, text)
    settings = RegistrationSettings(database_url=database_url, redis_url=redis_server.url,
                                    environment="development", fee_policy_dir=directory)
    with pytest.raises(PolicyError) as refused:
        create_registration_app(settings)
    assert str(refused.value).startswith(f"{directory / '2020.toml'}: ")
    assert problem in str(refused.value)
    assert tables_in(database_url) == []


def test_invoicing_refuses_to_start_with_a_broken_policy_file_and_writes_nothing(
        tmp_path: Path, database_url: str, redis_server: RedisServer) -> None:
    directory = policy_dir(tmp_path, TYPO)
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"fee_policy_dir": directory})
    with pytest.raises(PolicyError) as refused:
        create_invoicing_app(settings)
    assert str(refused.value) == (f"{directory / '2020.toml'}: "
                                  "fee: is missing; fe: is not a policy setting (a typo?)")
    assert tables_in(database_url) == []
