"""The yearly run on real Redis and both databases: resumable after a crash, idempotent when run twice."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from devtools.bench import org_number
from services.registration import renewal_routes, renewals
from services.registration.lifecycle_models import RenewalRun
from services.registration.meetings.models import Meeting
from services.registration.models import Membership, Network
from services.registration.renew_cli import main as renew
from services.registration.renewals import run_batch, start_or_resume, start_run
from services.registration.settings import RegistrationSettings
from shared.db import transaction
from shared.events import MeetingInviteesChanged, MembershipsRenewed, utc_now
from shared.outbox import OutboxMessage
from shared.policy import load_policies
from shared.settings import DEV_TOKEN
from tests.support.invoicing import wait_for
from tests.support.registration import REGISTRATION_STREAM, csrf_of, registration_client, signup_body
from tests.support.servers import RedisServer
from tests.support.streams import read_events

AUTH = {"Authorization": f"Bearer {DEV_TOKEN}"}
POLICY_2019 = ('year = 2019\nfee = "4500.00"\n'
               '[[exemptions]]\nnetwork = "analytiker"\nreason = "Samarrangemang"\n')
ORG_A, ORG_B, ORG_C = "556677-8899", "212000-0142", org_number(3)


@dataclass
class Registration:
    client: TestClient
    settings: RegistrationSettings

    @property
    def engine(self) -> Engine:
        engine: Engine = self.client.app.state.runtime.engine  # type: ignore[attr-defined]
        return engine

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=AUTH)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def renewed_events(self) -> list[MembershipsRenewed]:
        return [e for e in read_events(self.settings.redis_url, REGISTRATION_STREAM)
                if isinstance(e, MembershipsRenewed)]

    def memberships(self, year: int) -> list[tuple[int, int, str]]:
        with Session(self.engine) as session:
            return [(m.organisation_id, m.network_id, m.status) for m in session.exec(
                select(Membership).where(Membership.year == year).order_by(col(Membership.id)))]


@pytest.fixture
def registration(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Registration]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "2019.toml").write_text(POLICY_2019, encoding="utf-8")
    options: dict[str, Any] = {"fee_policy_dir": policies, "renewal_batch_size": 1}
    with registration_client(database_url, redis_server.url, **options) as client:
        settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
        yield Registration(client, settings)


def given_three_organisations(registration: Registration) -> None:
    """A: three networks over two sign-ups (the second with a new contact); B: one cancelled;
    C: one opted out and one it already has in 2019."""
    first = registration.post("/api/v1/signups", signup_body(ORG_A, ["rus", "analytiker"]))
    again = signup_body(ORG_A, ["ung-region"])
    again["contact"] = {"name": "Bo Berg", "email": "bo@region.example"}
    registration.post("/api/v1/signups", again)
    b = {m["network"]: m["id"] for m in registration.post(
        "/api/v1/signups", signup_body(ORG_B, ["rus", "integration"]))["memberships"]}
    c = {m["network"]: m["id"] for m in registration.post(
        "/api/v1/signups", signup_body(ORG_C, ["rus", "fysisk-planering", "integration"]))["memberships"]}
    registration.post(f"/api/v1/memberships/{b['integration']}/cancel", {"reason": "Slutar"})
    registration.client.put(f"/api/v1/memberships/{c['fysisk-planering']}/renewal-opt-out", headers=AUTH,
                            json={"opt_out": True})
    registration.post("/api/v1/signups", {**signup_body(ORG_C, ["rus"]), "year": 2019})
    assert first["memberships"][0]["status"] == "active"


def progress(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return progress_lines(capsys.readouterr().out)


def progress_lines(out: str) -> list[str]:
    """The command's own lines (in tests, log lines go to stdout as well)."""
    return [line for line in out.splitlines()
            if line.startswith(("Startar", "Fortsätter", "Förnyelse", "Klar"))]


def renewed_by_organisation(events: list[MembershipsRenewed]) -> dict[str, list[tuple[str, str]]]:
    return {e.organisation.org_number: [(m.network_code, "exempt" if m.fee_exempt else str(m.fee))
                                        for m in e.memberships] for e in events}


def test_a_run_stopped_between_batches_resumes_where_it_stopped_and_a_second_run_renews_nothing(
        registration: Registration, capsys: pytest.CaptureFixture[str]) -> None:
    given_three_organisations(registration)
    policies = load_policies(registration.settings.fee_policy_dir)
    with transaction(registration.engine) as session:
        run, created = start_run(session, 2018, 2019, policies=policies, actor="ekonomi", now=utc_now())
    assert created and run.organisations_total == 3
    assert run.id is not None
    after_one = run_batch(registration.engine, run.id, policies=policies, batch_size=1, actor="ekonomi",
                          clock=utc_now)
    assert (after_one.status, after_one.organisations_done) == ("running", 1)
    # The process dies here. The command resumes the same run.

    assert renew(["--from", "2018", "--to", "2019", "--by", "ekonomi"], registration.settings) == 0
    lines = progress(capsys)
    assert lines[0] == ("Fortsätter förnyelse 1: Förnyelse 2018 → 2019: 1/3 organisationer (33 %), "
                        "3 medlemskap")
    assert lines[-1] == "Klar: 3 organisationer, 5 medlemskap förnyade till 2019."
    assert "Förnyelse 2018 → 2019: 2/3 organisationer (66 %), 4 medlemskap" in lines

    events = wait_for(lambda: len(registration.renewed_events()) == 3 and registration.renewed_events(),
                      what="one memberships.renewed per organisation")
    assert renewed_by_organisation(events) == {
        "5566778899": [("analytiker", "exempt"), ("ung-region", "4500.00"), ("rus", "4500.00")],
        "2120000142": [("rus", "4500.00")],
        org_number(3): [("integration", "4500.00")],
    }
    by_org = {e.organisation.org_number: e for e in events}
    assert by_org["5566778899"].contact.name == "Bo Berg", "the contact of the latest sign-up"
    assert {(e.from_year, e.year, e.renewal_run_id) for e in events} == {(2018, 2019, 1)}
    assert all(m.created and m.year == 2019 for e in events for m in e.memberships)
    assert len(registration.memberships(2019)) == 6, "five renewed and C's own sign-up for 2019"

    assert renew(["--from", "2018", "--to", "2019"], registration.settings) == 0
    assert progress(capsys)[-1] == "Klar: 0 organisationer, 0 medlemskap förnyade till 2019."
    assert len(registration.memberships(2019)) == 6
    runs = registration.client.get("/api/v1/renewals", headers=AUTH).json()
    assert [(r["id"], r["status"], r["organisations_total"], r["percent"]) for r in runs] == [
        (2, "finished", 0, 100), (1, "finished", 3, 100)]
    assert runs[1]["started_by"] == "ekonomi"
    # Five sign-ups, one cancellation, three renewals: nothing else was staged.
    wait_for(lambda: len(read_events(registration.settings.redis_url, REGISTRATION_STREAM)) == 9,
             what="every staged event published")
    with Session(registration.engine) as session:
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 9
    assert len(registration.renewed_events()) == 3, "the second run publishes nothing"


def test_a_crash_inside_a_batch_rolls_the_whole_batch_back_and_the_resumed_run_renews_each_once(
        registration: Registration, monkeypatch: pytest.MonkeyPatch) -> None:
    given_three_organisations(registration)
    policies = load_policies(registration.settings.fee_policy_dir)
    staged = renewals.add_event
    calls: list[int] = []

    def dies_on_the_second_organisation(session: Session, event: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed mid-batch")
        staged(session, event)

    monkeypatch.setattr(renewals, "add_event", dies_on_the_second_organisation)
    with transaction(registration.engine) as session:
        run, _created = start_run(session, 2018, 2019, policies=policies, actor="ekonomi", now=utc_now())
    assert run.id is not None
    with pytest.raises(RuntimeError, match="killed mid-batch"):
        renewals.run_to_end(registration.engine, run.id, policies=policies, batch_size=2, actor="ekonomi",
                            clock=utc_now)
    assert registration.memberships(2019) == [registration.memberships(2019)[0]], "only C's own sign-up"
    monkeypatch.setattr(renewals, "add_event", staged)

    finished = renewals.run_to_end(registration.engine, run.id, policies=policies, batch_size=2,
                                   actor="ekonomi", clock=utc_now)
    assert (finished.status, finished.organisations_done, finished.memberships_created) == ("finished", 3, 5)
    events = wait_for(lambda: len(registration.renewed_events()) == 3 and registration.renewed_events())
    assert sorted(len(e.memberships) for e in events) == [1, 1, 3]
    assert len(registration.memberships(2019)) == 6


def test_a_year_without_a_fee_policy_is_refused_clearly(registration: Registration,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    refused = registration.client.post("/api/v1/renewals", headers=AUTH,
                                       json={"from_year": 2019, "to_year": 2020})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("Det finns ingen avgiftspolicy för 2020.")
    assert renew(["--from", "2019", "--to", "2020"], registration.settings) == 1
    assert "ingen avgiftspolicy för 2020" in capsys.readouterr().err
    assert registration.client.get("/api/v1/renewals", headers=AUTH).json() == []


@pytest.mark.parametrize(("text", "problem"), [
    ('year = 2020\nfe = "4500.00"\n', "fee: is missing; fe: is not a policy setting (a typo?)"),
    # Only the catalogue knows this network is unknown: the command checks it like the service does.
    ('year = 2020\nfee = "4500.00"\n[[exemptions]]\nnetwork = "okänt"\nreason = "Nytt"\n',
     "exemptions: unknown network code(s) okänt"),
])
def test_a_broken_policy_file_stops_the_renew_command_with_a_message_and_no_run(
        registration: Registration, capsys: pytest.CaptureFixture[str], text: str, problem: str) -> None:
    given_three_organisations(registration)
    assert registration.settings.fee_policy_dir is not None
    broken = registration.settings.fee_policy_dir / "2020.toml"
    broken.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert renew(["--from", "2018", "--to", "2019"], registration.settings) == 1
    out, err = capsys.readouterr()
    assert err.startswith(f"Förnyelsen kan inte starta: {broken}: {problem}") and err.count("\n") == 1
    assert "Traceback" not in out + err and progress_lines(out) == []
    assert registration.client.get("/api/v1/renewals", headers=AUTH).json() == []
    assert registration.memberships(2019) == [registration.memberships(2019)[0]], "only C's own sign-up"


def test_finance_starts_the_run_on_the_page_and_watches_it_finish(registration: Registration) -> None:
    given_three_organisations(registration)
    client = registration.client
    assert client.get("/staff/renewals").status_code == 303, "a login first"
    client.post("/login", data={"username": "admin", "password": DEV_TOKEN,
                                "csrf_token": csrf_of(client.get("/login").text), "next": "/"})
    page = client.get("/staff/renewals")
    assert page.status_code == 200 and 'name="from_year" value="2018"' in page.text

    assert client.post("/staff/renewals", data={"csrf_token": "forged", "from_year": "2018",
                                                "to_year": "2019"}).status_code == 400
    started = client.post("/staff/renewals", data={"csrf_token": csrf_of(page.text), "from_year": "2018",
                                                   "to_year": "2019"})
    assert started.status_code == 303 and started.headers["location"] == "/staff/renewals#run-1"

    wait_for(lambda: client.get("/api/v1/renewals/1", headers=AUTH).json()["status"] == "finished",
             what="the run finished in the background")
    done = client.get("/staff/renewals")
    assert "3 av 3 organisationer · 5 medlemskap förnyade" in done.text
    assert re.search(r'<progress max="100" value="100">', done.text)
    assert 'http-equiv="refresh"' not in done.text, "no refreshing once nothing runs"
    assert len(registration.memberships(2019)) == 6


def log_in(client: TestClient) -> None:
    client.post("/login", data={"username": "admin", "password": DEV_TOKEN,
                                "csrf_token": csrf_of(client.get("/login").text), "next": "/"})


def run_card(html: str, run_id: int) -> str:
    match = re.search(rf'<section class="card" id="run-{run_id}">(.*?)</section>', html, re.S)
    assert match, f"the page shows run {run_id}"
    return match.group(1)


def test_the_page_shows_a_run_under_way_with_its_progress_and_refreshes_until_it_is_done(
        registration: Registration, monkeypatch: pytest.MonkeyPatch) -> None:
    given_three_organisations(registration)
    first_batch_done, go_on = threading.Event(), threading.Event()
    batch = renewal_routes.run_batch

    def held_after_the_first_batch(*args: Any, **kwargs: Any) -> RenewalRun:
        done = batch(*args, **kwargs)
        if done.organisations_done == 1:
            first_batch_done.set()
            assert go_on.wait(timeout=30), "the test let the run go on"
        return done

    monkeypatch.setattr(renewal_routes, "run_batch", held_after_the_first_batch)
    client = registration.client
    log_in(client)
    started = client.post("/staff/renewals", data={"csrf_token": csrf_of(client.get("/staff/renewals").text),
                                                   "from_year": "2018", "to_year": "2019"})
    assert started.status_code == 303
    assert first_batch_done.wait(timeout=20), "the first batch ran"
    try:
        under_way = client.get("/staff/renewals").text
        card = run_card(under_way, 1)
        assert '<meta http-equiv="refresh" content="2">' in under_way, "the page refreshes itself"
        assert '<progress max="100" value="33">' in card
        assert "1 av 3 organisationer · 3 medlemskap förnyade" in card
        assert "Fortsätt" not in card, "nothing to resume while it runs"
        assert client.get("/api/v1/renewals/1", headers=AUTH).json()["active"] is True
    finally:
        go_on.set()
    wait_for(lambda: client.get("/api/v1/renewals/1", headers=AUTH).json()["status"] == "finished",
             what="the run finished")
    done = client.get("/staff/renewals").text
    assert 'http-equiv="refresh"' not in done
    assert '<progress max="100" value="100">' in run_card(done, 1)


def test_fortsatt_on_the_page_resumes_a_stopped_run_to_the_end_renewing_each_organisation_once(
        registration: Registration) -> None:
    given_three_organisations(registration)
    policies = load_policies(registration.settings.fee_policy_dir)
    with transaction(registration.engine) as session:
        run, _created = start_run(session, 2018, 2019, policies=policies, actor="ekonomi", now=utc_now())
    assert run.id is not None
    run_batch(registration.engine, run.id, policies=policies, batch_size=1, actor="ekonomi", clock=utc_now)
    # The service stopped here: the run is unfinished and nothing drives it.

    client = registration.client
    log_in(client)
    stopped = client.get("/staff/renewals").text
    card = run_card(stopped, run.id)
    assert "1 av 3 organisationer" in card and "Körningen stannade innan den var klar." in card
    assert 'name="from_year" value="2018"' in card and 'name="to_year" value="2019"' in card
    assert ">Fortsätt</button>" in card
    assert 'http-equiv="refresh"' not in stopped, "nothing runs until finance resumes it"

    resumed = client.post("/staff/renewals", data={"csrf_token": csrf_of(card), "from_year": "2018",
                                                   "to_year": "2019"})
    assert resumed.status_code == 303 and resumed.headers["location"] == f"/staff/renewals#run-{run.id}"
    wait_for(lambda: client.get(f"/api/v1/renewals/{run.id}", headers=AUTH).json()["status"] == "finished",
             what="the resumed run finished")
    finished = client.get("/staff/renewals").text
    assert "3 av 3 organisationer · 5 medlemskap förnyade" in run_card(finished, run.id)
    assert "Fortsätt" not in finished
    assert [r["id"] for r in client.get("/api/v1/renewals", headers=AUTH).json()] == [run.id], "no second run"
    assert len(registration.memberships(2019)) == 6, "five renewed and C's own sign-up for 2019"
    events = wait_for(lambda: len(registration.renewed_events()) == 3 and registration.renewed_events(),
                      what="one memberships.renewed per organisation")
    # One event per organisation is one invoice per organisation: none renewed (or billed) twice.
    assert sorted(e.organisation.org_number for e in events) == sorted(
        n.replace("-", "") for n in (ORG_A, ORG_B, ORG_C))
    assert sum(len(e.memberships) for e in events) == 5


def test_starting_the_same_years_again_resumes_the_one_unfinished_run(registration: Registration) -> None:
    given_three_organisations(registration)
    policies = load_policies(registration.settings.fee_policy_dir)
    first, created = start_or_resume(registration.engine, 2018, 2019, policies=policies, actor="a",
                                     now=utc_now())
    again, created_again = start_or_resume(registration.engine, 2018, 2019, policies=policies, actor="b",
                                           now=utc_now())
    assert (created, created_again, again.id, again.started_by) == (True, False, first.id, "a")
    # Two starts racing each other: the database lets only one unfinished run per years exist.
    with pytest.raises(IntegrityError), transaction(registration.engine) as session:
        session.add(RenewalRun(from_year=2018, to_year=2019, started_by="c", started_at=utc_now()))


def test_the_renew_command_runs_as_a_process_and_prints_only_its_progress(registration: Registration) -> None:
    given_three_organisations(registration)
    env = {**os.environ, "REGISTRATION_DATABASE_URL": registration.settings.database_url,
           "FEE_POLICY_DIR": str(registration.settings.fee_policy_dir), "RENEWAL_BATCH_SIZE": "2",
           "REGLAB_ENV": "development"}
    command = [sys.executable, "-m", "services.registration", "renew"]
    done = subprocess.run([*command, "--from", "2018", "--to", "2019", "--by", "Eva"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Startar förnyelse 1: Förnyelse 2018 → 2019: 0/3 organisationer (0 %), 0 medlemskap",
        "Förnyelse 2018 → 2019: 2/3 organisationer (66 %), 4 medlemskap",
        "Förnyelse 2018 → 2019: 3/3 organisationer (100 %), 5 medlemskap",
        "Klar: 3 organisationer, 5 medlemskap förnyade till 2019.",
    ]
    bad = subprocess.run([*command, "--from", "2018"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode == 2 and "--to" in bad.stderr


def test_renewed_members_are_invited_to_the_new_years_meetings_already_open(
        registration: Registration) -> None:
    registration.post("/api/v1/signups", signup_body(ORG_A, ["rus"]))
    other = signup_body(ORG_B, ["analytiker"])
    other["contact"] = {"name": "Bo Berg", "email": "bo@kommun.example"}
    registration.post("/api/v1/signups", other)
    january = datetime(2019, 1, 10, 9, 0, tzinfo=UTC)
    with transaction(registration.engine) as session:
        rus = session.exec(select(Network).where(Network.code == "rus")).one()
        meeting = Meeting(network_id=rus.id or 0, year=2019, title="RUS-träff 2019",
                          starts_at=datetime(2019, 2, 6, 9, 0, tzinfo=UTC),
                          ends_at=datetime(2019, 2, 6, 15, 0, tzinfo=UTC), capacity=30,
                          registration_deadline=date(2019, 1, 31), created_at=january, updated_at=january)
        session.add(meeting)
        session.flush()
        meeting_id = meeting.id
    policies = load_policies(registration.settings.fee_policy_dir)
    with transaction(registration.engine) as session:
        run, _created = start_run(session, 2018, 2019, policies=policies, actor="ekonomi", now=january)
    assert run.id is not None
    run_batch(registration.engine, run.id, policies=policies, batch_size=10, actor="ekonomi",
              clock=lambda: january)

    def invitee_lists() -> list[MeetingInviteesChanged]:
        return [e for e in read_events(registration.settings.redis_url, REGISTRATION_STREAM)
                if isinstance(e, MeetingInviteesChanged)]

    [event] = wait_for(lambda: invitee_lists(), what="the meeting's new invitee list")
    assert event.meeting.meeting_id == meeting_id
    assert [(i.email, i.organisation_name) for i in event.invitees] == [
        ("anna@region.example", "Region Exempel")]
