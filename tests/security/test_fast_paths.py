"""Work a request skips because it does nothing on its path, and what must still hold.

A public catalog answer is kept as bytes and sent ahead of Flask (``http.PreparedAnswers``):
cacheable by a shared cache, never a cookie or ``Vary: Cookie``, the same ETag and 304s. A
Bearer request reads and writes no session. The rate limiter's hooks run only where a limit
applies, and every limit that applies still counts.
"""
from __future__ import annotations

import pytest

from academy.http import PUBLIC_CACHE_CONTROL, PreparedAnswers
from tests.helpers.clients import Learner, signed_in
from tests.helpers.sql import statements

PUBLIC = ("/api/v1/tracks", "/api/v1/tracks/basics", "/api/v1/tracks/basics/lessons/intro",
          "/api/v1/careers")


def prepared(app) -> PreparedAnswers:
    """The app's PreparedAnswers, under whatever middleware wraps it."""
    layer = app.wsgi_app
    while not isinstance(layer, PreparedAnswers):
        layer = layer.app
    return layer


@pytest.fixture
def to_flask(app):
    """The requests PreparedAnswers handed on to Flask, as (method, path) pairs."""
    layer = prepared(app)
    handed, flask_app = [], layer.next

    def counting(environ, start_response):
        handed.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        return flask_app(environ, start_response)

    layer.next = counting
    yield handed
    layer.next = flask_app


def test_a_public_answer_is_cacheable_by_anyone_and_never_about_a_cookie(app, catalog):
    learner = signed_in(app)
    remembered = Learner(app.test_client(), email=signed_in(app).email)
    remembered.login(remember=True)
    for client in (app.test_client(), learner.client, remembered.client):
        for path in PUBLIC:
            for _ in range(2):  # built, then sent as kept
                response = client.get(path)
                assert response.status_code == 200, path
                assert response.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL == \
                    "public, max-age=60"
                assert "Set-Cookie" not in response.headers, path
                assert "Cookie" not in response.vary, path
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_kept_answer_goes_out_before_flask_with_the_same_etag_and_304(app, catalog, to_flask):
    client = app.test_client()
    built = client.get("/api/v1/tracks/basics")
    assert to_flask == [("GET", "/api/v1/tracks/basics")]
    with statements(app) as sent:
        again = client.get("/api/v1/tracks/basics")
        head = client.head("/api/v1/tracks/basics")
        unchanged = client.get("/api/v1/tracks/basics",
                               headers={"If-None-Match": built.headers["ETag"]})
        weak = client.get("/api/v1/tracks/basics",
                          headers={"If-None-Match": f'"other", W/{built.headers["ETag"]}'})
    assert to_flask == [("GET", "/api/v1/tracks/basics")] and sent == []
    assert again.data == built.data and again.headers == built.headers
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == built.headers["Content-Length"]
    for answer in (unchanged, weak):
        assert answer.status_code == 304 and answer.data == b""
        assert answer.headers["ETag"] == built.headers["ETag"]
        assert answer.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL
        assert "Content-Type" not in answer.headers


@pytest.mark.parametrize("headers, path", [
    ({"Authorization": "Bearer not-a-token"}, "/api/v1/tracks/basics"),  # a token is checked
    ({"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}, "/api/v1/tracks/basics"),
    ({"Range": "bytes=0-10"}, "/api/v1/tracks/basics"),
    ({}, "/api/v1/tracks?per_page=1"),  # a query string: Flask reads and checks it
    ({}, "/api/v1/tracks/basics/"),
    ({}, "/api/v1/tracks/nope"),
])
def test_anything_else_goes_to_flask_as_before(app, catalog, to_flask, headers, path):
    client = app.test_client()
    client.get("/api/v1/tracks/basics")
    to_flask.clear()
    answer = client.get(path, headers=headers)
    assert to_flask == [("GET", path.split("?")[0])]
    if headers.get("Authorization"):
        assert answer.status_code == 401


def test_a_hook_it_does_not_know_turns_prepared_answers_off(app_factory, catalog):
    other = app_factory()
    other.after_request(lambda response: response.headers.set("X-Seen", "yes") or response)
    client = other.test_client()
    for _ in range(3):
        assert client.get("/api/v1/tracks/basics").headers.get("X-Seen") == "yes"


def test_prepared_answers_carry_strict_transport_security_in_production(app_factory, catalog):
    client = app_factory(ACADEMY_ENV="production").test_client()
    for _ in range(2):
        assert client.get("/api/v1/tracks/basics").headers[
            "Strict-Transport-Security"].startswith("max-age=")


def test_a_default_rate_limit_still_limits_the_catalog_and_the_learner_endpoints(
        app_factory, catalog):
    from academy.extensions import limiter

    try:
        limited = app_factory(RATELIMIT_DEFAULT="3 per minute", RATELIMIT_ENABLED=True)
        learner = signed_in(limited, bearer=True)
        anonymous = limited.test_client()
        assert [anonymous.get("/api/v1/tracks/basics").status_code for _ in range(4)] == [
            200, 200, 200, 429]
        limiter.reset()
        assert [learner.get("/api/v1/enrollments").status_code for _ in range(4)] == [
            200, 200, 200, 429]
    finally:
        limiter.limit_manager.set_default_limits([])  # the limiter object is shared
        limiter.reset()


def test_the_limiter_works_out_once_per_endpoint_that_no_limit_applies(app, catalog,
                                                                        monkeypatch):
    from academy.extensions import limiter

    if not app.config.get("RATELIMIT_ENABLED"):
        pytest.skip("rate limits are off")
    resolved = []
    original = limiter.limit_manager.resolve_limits
    monkeypatch.setattr(limiter.limit_manager, "resolve_limits",
                        lambda *a, **k: resolved.append(a[1]) or original(*a, **k))
    client = app.test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert 0 < len(resolved) <= 2, resolved  # once, in and out of the middleware
    # Where a limit applies it is counted on every request, as before.
    for i in range(10):
        client.post("/api/v1/auth/login", json={"email": f"x{i}@example.org", "password": "x"})
    assert client.post("/api/v1/auth/login", json={"email": "y@example.org",
                                                    "password": "x"}).status_code == 429


def test_a_bearer_request_reads_no_session_and_does_no_remember_cookie_work(app, catalog,
                                                                             monkeypatch):
    from academy.extensions import login_manager

    learner = Learner(app.test_client(), email=signed_in(app).email)
    learner.login(remember=True)  # a session and a remember cookie, then a token as well
    learner.bearer = learner.post("/api/v1/auth/tokens", json={"name": "t"}).get_json()["token"]
    assert learner.client.get_cookie("session") and learner.client.get_cookie("remember_token")
    unsigned, remembered = [], []
    interface = app.session_interface
    signer = interface.get_signing_serializer
    monkeypatch.setattr(interface, "get_signing_serializer",
                        lambda a: unsigned.append(1) or signer(a))
    remember = login_manager._update_remember_cookie
    monkeypatch.setattr(login_manager, "_update_remember_cookie",
                        lambda response: remembered.append(1) or remember(response))
    for answer in (learner.get("/api/v1/enrollments"), learner.get("/api/v1/me"),
                   learner.complete("basics", "intro"), learner.get("/api/v1/auth/csrf")):
        assert answer.status_code in (200, 409), answer.get_json()
        assert "Set-Cookie" not in answer.headers
    assert unsigned == [] and remembered == []
    # A cookie request still reads its session and does the remember-cookie step.
    learner.bearer = None
    cookie = learner.get("/api/v1/me")
    assert cookie.status_code == 200 and unsigned and remembered


def test_a_bearer_token_of_an_erased_learner_is_refused_on_the_learner_endpoints(
        app, catalog, database):
    from sqlalchemy import update

    from academy.accounts.models import User
    from academy.timeutil import utcnow

    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    assert learner.get("/api/v1/enrollments").status_code == 200
    with database() as session:
        session.execute(update(User).values(erased_at=utcnow()))
        session.commit()
    for answer in (learner.get("/api/v1/enrollments"), learner.complete("basics", "intro")):
        assert answer.status_code == 401


def test_page_arguments_left_out_are_the_defaults_and_given_ones_still_checked(app, catalog):
    learner = signed_in(app, bearer=True)
    for slug in ("basics", "advanced"):
        learner.enroll(slug)
    assert learner.get("/api/v1/enrollments?per_page=1").get_json()["items"][0]["track"][
        "slug"] == "basics"
    assert len(learner.get("/api/v1/enrollments").get_json()["items"]) == 2
    wrong = learner.get("/api/v1/enrollments?per_page=1000")
    assert wrong.status_code == 422 and "per_page" in wrong.get_json()["errors"]
