"""``/healthz`` and ``/readyz``."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from academy import health
from tests.helpers.services import wait_until


def test_healthz(client):
    assert client.get("/healthz").status_code == 200


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_the_database_when_it_is_down(app_factory):
    app = app_factory("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["checks"] == {"database": "down", "broker": "ok"}
    assert "database" in body["detail"]


def test_readyz_names_the_broker_when_it_is_down(app_factory):
    app = app_factory(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"] == {"database": "ok", "broker": "down"}
    assert "broker" in body["detail"]


@pytest.fixture
def silent_server():
    """A server that accepts connections and never says a word: a dependency that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


def timed_readyz(app) -> tuple[int, dict, float]:
    """``/readyz`` answered on a thread, so a check that hangs fails the test instead of
    hanging it."""
    answers = []

    def ask():
        started = time.monotonic()
        response = app.test_client().get("/readyz")
        answers.append((response.status_code, response.get_json(), time.monotonic() - started))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(10)
    assert answers, "/readyz did not answer within 10 s"
    return answers[0]


def test_the_checks_together_are_bounded_under_a_probes_one_second():
    assert health.READY_TIMEOUT + 0.1 <= 1.0
    assert health.BROKER_TIMEOUT <= health.READY_TIMEOUT


@pytest.mark.parametrize("dependency", ["broker", "database"])
def test_readyz_answers_within_a_second_when_a_dependency_hangs(app_factory, silent_server,
                                                                dependency):
    silent = f"127.0.0.1:{silent_server}"
    if dependency == "broker":
        app = app_factory(REDIS_URL=f"redis://{silent}/0")
    else:
        app = app_factory(f"postgresql+psycopg://nobody@{silent}/none")
    status, body, seconds = timed_readyz(app)
    assert status == 503
    assert body["checks"][dependency] == "down"
    # READY_TIMEOUT (0.8 s) is what the checks get; the rest is margin for a busy machine.
    assert seconds < 1.5, seconds


def test_readyz_answers_at_once_when_the_broker_refuses(app_factory):
    status, body, seconds = timed_readyz(app_factory(REDIS_URL="redis://127.0.0.1:1/0"))
    assert status == 503 and body["checks"]["broker"] == "down"
    assert seconds < health.READY_TIMEOUT, seconds  # refused is known at once: no retry


def test_a_hung_check_is_not_started_again_while_it_hangs(app_factory, silent_server):
    def hanging():
        return [t for t in threading.enumerate() if t.name == "readyz-database" and t.is_alive()]

    wait_until(lambda: not hanging(), timeout=10)  # an earlier test's, ended by its server
    app = app_factory(f"postgresql+psycopg://nobody@127.0.0.1:{silent_server}/none")
    for _ in range(3):
        assert timed_readyz(app)[0] == 503
    assert len(hanging()) == 1
