"""A new year's fee policy dropped in FEE_POLICY_DIR changes fees and exemptions without a code change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.registration import csrf_of, form_data, registration_client, signup_body, text_of
from tests.support.servers import RedisServer

POLICY_2019 = '''
year = 2019
fee = "4500.00"
vat_treatment = "outside_scope"
vat_rate = "0.25"
vat_note = "Avgiften är inte momspliktig."

[[exemptions]]
network = "smart-specialisering"
reason = "Marginell verksamhet"
'''


@pytest.fixture
def client(tmp_path: Path, database_url: str, redis_server: RedisServer) -> Iterator[TestClient]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    with registration_client(database_url, redis_server.url, fee_policy_dir=policies) as test_client:
        yield test_client


def test_the_latest_policy_year_is_the_default_and_earlier_years_stay_available(client: TestClient) -> None:
    latest = {n["code"]: n for n in client.get("/api/v1/networks").json()}
    assert latest["rus"]["fee"] == "4500.00" and latest["rus"]["year"] == 2019
    assert latest["analytiker"]["fee_exempt"] is False
    earlier = {n["code"]: n for n in client.get("/api/v1/networks", params={"year": 2018}).json()}
    assert earlier["analytiker"]["fee_exempt"] is True

    html = client.get("/").text
    assert "4 500 kr" in text_of(html, "network-row-analytiker")
    assert text_of(html, "year").split() == ["2019", "2018"]
    assert "4 000 kr" in text_of(client.get("/", params={"year": "2018"}).text, "network-row-rus")


def test_fees_outside_vat_show_the_note_and_no_vat(client: TestClient) -> None:
    csrf = csrf_of(client.get("/").text)
    answer = client.post("/", data=form_data(csrf, year="2019", networks=["analytiker"]))
    assert answer.status_code == 303
    html = client.get(answer.headers["location"]).text
    assert text_of(html, "fee-total") == "4 500,00 kr"
    assert "fee-vat" not in html
    assert "Avgiften är inte momspliktig." in text_of(html, "vat-note")

    api = client.post("/api/v1/signups", json=signup_body(networks=["rus"]) | {"year": 2019})
    assert api.status_code == 201
