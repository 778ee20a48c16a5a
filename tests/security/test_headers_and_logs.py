"""Response headers on every kind of answer, and no secret in any log line."""
from __future__ import annotations

import logging

import pytest

from tests.helpers.clients import Learner, signed_in
from tests.helpers.factories import PASSWORD


@pytest.mark.parametrize("path", ["/api/v1/tracks", "/api/v1/me", "/healthz", "/api/v1/nope",
                                  "/unsubscribe/forged", "/verify-email?token=x"])
def test_every_answer_forbids_sniffing_framing_and_referrers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_html_pages_have_a_strict_content_security_policy(client):
    csp = client.get("/verify-email?token=x").headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "form-action 'self'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp


def test_no_password_token_or_session_value_is_logged(app, catalog, caplog):
    caplog.set_level(logging.DEBUG)
    learner = signed_in(app)
    secret = learner.post("/api/v1/auth/tokens", json={"name": "cli"}).get_json()["token"]
    api = Learner(app.test_client())
    api.bearer = secret
    assert api.get("/api/v1/me").status_code == 200
    wrong = app.test_client().post("/api/v1/auth/login",
                                   json={"email": learner.email, "password": "Wrong-Secret-123"})
    assert wrong.status_code == 401
    session_cookie = learner.client.get_cookie("session").value
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for value in (PASSWORD, "Wrong-Secret-123", secret, secret[10:], session_cookie, learner.csrf):
        assert value not in logged


def test_answers_about_a_learner_are_private_and_keyed_by_who_asked(app, catalog):
    learner = signed_in(app)
    for path in ("/api/v1/me", "/api/v1/me/export", "/api/v1/enrollments", "/api/v1/auth/csrf"):
        response = learner.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path
        assert {"Authorization", "Cookie"} <= set(response.vary), path
    assert app.test_client().get("/api/v1/me").headers["Cache-Control"] == "private, no-store"


def test_the_public_catalog_does_not_vary_by_cookie_even_for_a_signed_in_learner(app, catalog):
    learner = signed_in(app)
    for client in (app.test_client(), learner):
        for path in ("/api/v1/tracks", "/api/v1/tracks/basics", "/api/v1/tracks/basics/lessons/intro"):
            response = client.get(path)
            assert response.status_code == 200
            assert "Cookie" not in response.vary, (path, response.headers.get("Vary"))
            assert "private" not in response.headers.get("Cache-Control", "")


def test_production_sends_strict_transport_security(app_factory, catalog):
    production = app_factory(ACADEMY_ENV="production").test_client()
    assert production.get("/healthz").headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in app_factory().test_client().get("/healthz").headers
