"""ACADEMY_CORS_ORIGINS: a listed front-end calls the API with credentials; others stay refused."""
from __future__ import annotations

import pytest

from academy.config import ConfigError, load
from tests.helpers.factories import PASSWORD, make_user

FRONT = "https://app.example.org"
OTHER = "https://evil.example.net"


@pytest.fixture
def cors_app(app_factory, catalog):
    return app_factory(CORS_ORIGINS=frozenset({FRONT}))


def preflight(client, origin, method="POST", path="/api/v1/auth/login"):
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type, x-csrf-token"})


def test_a_listed_origin_gets_its_preflight_answered(cors_app):
    answer = preflight(cors_app.test_client(), FRONT)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == FRONT
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-CSRF-Token" in answer.headers["Access-Control-Allow-Headers"]
    assert "PATCH" in answer.headers["Access-Control-Allow-Methods"]


def test_another_origin_gets_no_cors_header_and_a_refused_preflight(cors_app):
    client = cors_app.test_client()
    answer = preflight(client, OTHER)
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" not in client.get(
        "/api/v1/tracks", headers={"Origin": OTHER}).headers


def test_a_listed_front_end_signs_in_and_writes_with_cookie_and_csrf(cors_app):
    with cors_app.app_context():
        email = make_user().email
    client = cors_app.test_client()
    origin = {"Origin": FRONT}
    login = client.post("/api/v1/auth/login", headers=origin,
                        json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert login.headers["Access-Control-Allow-Origin"] == FRONT
    assert login.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in login.headers["Vary"]
    csrf = login.get_json()["csrf_token"]
    no_token = client.post("/api/v1/enrollments", headers=origin, json={"track": "basics"})
    assert no_token.status_code == 403  # the CSRF token is still required
    enrolled = client.post("/api/v1/enrollments", headers={**origin, "X-CSRF-Token": csrf},
                           json={"track": "basics"})
    assert enrolled.status_code == 201
    assert enrolled.headers["Access-Control-Allow-Origin"] == FRONT


def test_another_origin_still_cannot_sign_in(cors_app):
    with cors_app.app_context():
        email = make_user().email
    answer = cors_app.test_client().post("/api/v1/auth/login", headers={"Origin": OTHER},
                                         json={"email": email, "password": PASSWORD})
    assert answer.status_code == 403


def test_without_the_setting_no_origin_is_allowed(app, catalog):
    answer = preflight(app.test_client(), FRONT)
    assert "Access-Control-Allow-Origin" not in answer.headers
    login = app.test_client().post("/api/v1/auth/login", headers={"Origin": FRONT},
                                   json={"email": "x@example.org", "password": "whatever it is"})
    assert login.status_code == 403


@pytest.mark.parametrize("value", ["*", "https://app.example.org/path", "app.example.org",
                                   "ftp://app.example.org"])
def test_a_bad_origin_setting_is_refused_naming_it(tmp_path, value):
    with pytest.raises(ConfigError, match="ACADEMY_CORS_ORIGINS"):
        load(tmp_path, {"ACADEMY_CORS_ORIGINS": value})


def test_production_needs_https_origins(tmp_path):
    environ = {"ACADEMY_ENV": "production", "ACADEMY_SECRET_KEY": "x" * 40,
               "ACADEMY_DATABASE_URL": "postgresql+psycopg://db/academy",
               "ACADEMY_CORS_ORIGINS": "http://app.example.org"}
    with pytest.raises(ConfigError, match="https"):
        load(tmp_path, environ)
    environ["ACADEMY_CORS_ORIGINS"] = f"{FRONT}, https://admin.example.org"
    assert load(tmp_path, environ)["CORS_ORIGINS"] == {FRONT, "https://admin.example.org"}
