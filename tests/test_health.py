"""``/healthz`` and ``/readyz``."""
from __future__ import annotations


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
