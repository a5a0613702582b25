"""Health and metrics: /healthz notices a stopped subscriber, the watchdog brings it back, /metrics counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from redis import Redis

from services.invoicing.app import create_app
from shared.events import REGISTRATION_STREAM
from tests.support.invoicing import AUTH, invoicing_settings, publish, signup_event, wait_for
from tests.support.servers import RedisServer


def lose_the_stream(redis_url: str) -> None:
    """What Redis restarted without persistence looks like to a consumer: no stream, no group."""
    client = Redis.from_url(redis_url)
    client.delete(REGISTRATION_STREAM)
    client.close()


def test_healthz_is_unhealthy_when_a_subscriber_has_stopped_though_redis_answers(
        database_url: str, redis_server: RedisServer) -> None:
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"subscriber_watchdog_seconds": 3600.0})
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        lose_the_stream(redis_server.url)
        answer = wait_for(lambda: (r := client.get("/healthz")).status_code == 503 and r,
                          what="/healthz reporting the stopped subscriber")
        body = answer.json()
        assert body["checks"]["redis"] is True
        assert "reglab.registration" in body["checks"]["subscribers"]


def test_a_subscriber_whose_group_vanished_is_restarted_and_reads_again(
        database_url: str, redis_server: RedisServer) -> None:
    settings = invoicing_settings(database_url, redis_server.url).model_copy(
        update={"subscriber_watchdog_seconds": 0.5})
    with TestClient(create_app(settings)) as client:
        lose_the_stream(redis_server.url)
        # The reader notices on its next read (it blocks up to 1 s), stops, and is restarted.
        wait_for(lambda: client.get("/healthz").status_code == 200, what="healthy again")
        publish(redis_server.url, signup_event(1, [(1, "ung-region")]))
        invoices = wait_for(lambda: client.get("/api/v1/invoices", headers=AUTH).json(),
                            what="the sign-up invoiced after the restart")
        assert len(invoices) == 1


def metric(text: str, name: str) -> float:
    """The value of one sample line in Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_show_events_handled_lag_pending_backlog_and_dead_letters(
        database_url: str, redis_server: RedisServer) -> None:
    handled = 'reglab_events_handled_total{stream="reglab.registration",type="signup.completed"}'
    group = '{group="invoicing",stream="reglab.registration"}'
    with TestClient(create_app(invoicing_settings(database_url, redis_server.url))) as client:
        before = metric(client.get("/metrics").text, handled)
        publish(redis_server.url, signup_event(1, [(1, "ung-region")]), signup_event(2, [(2, "rus")]))
        wait_for(lambda: len(client.get("/api/v1/invoices", headers=AUTH).json()) == 2, what="invoices")
        text = wait_for(lambda: (t := client.get("/metrics").text)
                        and metric(t, "reglab_outbox_backlog") == 0 and t, what="outbox drained")
    assert metric(text, handled) == before + 2
    assert metric(text, f"reglab_consumer_lag{group}") == 0
    assert metric(text, f"reglab_consumer_pending{group}") == 0
    assert 'reglab_dead_letters{stream="reglab.registration"} 0.0' in text
