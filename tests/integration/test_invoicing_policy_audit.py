"""A fee policy file added or changed is an audited act: recorded once at start, shown on /decisions."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from services.invoicing.app import create_app
from shared.audit import entries_for
from shared.db import make_engine
from tests.support.invoicing import invoicing_settings, login
from tests.support.servers import RedisServer

POLICY_2019 = """
year = 2019
fee = "{fee}"
vat_treatment = "standard"
vat_rate = "0.25"
"""


def policy_entries(database_url: str, year: int) -> list[tuple[str, str]]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        entries = [(e.action, e.detail) for e in reversed(entries_for(session, f"policy:{year}"))]
    engine.dispose()
    return entries


def test_policies_are_audited_when_new_or_changed_and_not_on_an_unchanged_restart(
        database_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    (policy_dir / "2019.toml").write_text(POLICY_2019.format(fee="4500.00"), encoding="utf-8")
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"fee_policy_dir": policy_dir})

    with TestClient(create_app(settings)):
        pass
    with TestClient(create_app(settings)):
        pass  # nothing changed: nothing new in the log
    assert [action for action, _ in policy_entries(database_url, 2018)] == ["policy.load"]
    [(action, detail)] = policy_entries(database_url, 2019)
    assert action == "policy.load" and "avgift 4500.00 SEK, moms 25 %" in detail

    (policy_dir / "2019.toml").write_text(POLICY_2019.format(fee="5000.00"), encoding="utf-8")
    with TestClient(create_app(settings)) as client:
        login(client)
        page = client.get("/decisions").text
    assert [action for action, _ in policy_entries(database_url, 2019)] == ["policy.load", "policy.change"]
    assert "policy:2019" in page and "avgift 5000.00 SEK" in page and "ändrad" in page
