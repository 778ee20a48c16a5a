"""Behind reverse proxies (``ACADEMY_PROXY_HOPS``): who the client is, where a redirect points,
where cookies and forms go, and which rate-limit headers anyone sees.

The test client plays the proxy: ``REMOTE_ADDR`` is the proxy's address, the ``X-Forwarded-*``
headers what it (and, before it, the client) wrote. ``tests/deploy`` does the same with a real
nginx.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from urllib.parse import quote

import pytest

from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import free_port
from tests.helpers.services import (
    ROOT,
    TEST_DATABASE_URL,
    academy_environ,
    needs_postgres,
    wait_until,
)

PROXY = "10.0.0.1"


def login(client, email, password="wrong password!", **kwargs):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       **kwargs)


def via_proxy(client_address: str, **headers) -> dict:
    return {"environ_base": {"REMOTE_ADDR": PROXY},
            "headers": {"X-Forwarded-For": client_address, **headers}}


def rate_limit_headers(response) -> list[str]:
    return [name for name, _ in response.headers
            if name.lower().startswith("x-ratelimit") or name.lower() == "retry-after"]


# --- At 0 hops, nothing forwarded is believed --------------------------------------------------

FORGED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Prefix": "/evil",
          "X-Forwarded-Proto": "https", "X-Forwarded-Port": "8443"}


def test_a_redirect_never_names_the_host_the_client_wrote(app, catalog):
    answer = app.test_client().get("/api/v1//tracks?career=data",
                                   headers={"Host": "evil.example", **FORGED})
    assert answer.status_code == 308
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["status"] == 308
    assert answer.headers["Location"] == "/api/v1/tracks?career=data"


def test_at_zero_hops_no_forwarded_header_is_believed(app, catalog):
    page = app.test_client().get("/login", headers=FORGED)
    assert 'action="/login"' in page.get_data(as_text=True)
    assert re.search(r"Path=/(;|$)", page.headers["Set-Cookie"])
    client = app.test_client()
    for i in range(10):
        answer = login(client, f"guess{i}@example.org", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                       headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert answer.status_code == 401
    refused = login(client, "guess@example.org", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                    headers={"X-Forwarded-For": "198.51.100.200"})
    assert refused.status_code == 429
    # The redirect, the one answer that used to follow the request's own view of itself.
    moved = app.test_client().get("/api/v1//tracks", headers=FORGED)
    assert moved.headers["Location"] == "/api/v1/tracks"


def test_a_redirect_from_many_slashes_is_a_path_not_a_host(app, catalog):
    # "//host/path" in a Location would name another host; the merged path has one slash.
    answer = app.test_client().get("/", environ_overrides={"PATH_INFO": "////api/v1//tracks"})
    assert answer.status_code == 308
    assert answer.headers["Location"] == "/api/v1/tracks"


# --- At 1 hop, the proxy's values are believed, and only its ----------------------------------

@pytest.fixture
def proxied(app_factory):
    return app_factory(PROXY_HOPS=1)


def test_behind_one_proxy_each_client_has_its_own_attempts(proxied, catalog):
    with proxied.app_context():
        email = make_user().email
    client = proxied.test_client()
    for i in range(10):  # ten accounts from one client
        assert login(client, f"guess{i}@example.org", **via_proxy("198.51.100.1")).status_code == 401
    assert login(client, "guess@example.org", **via_proxy("198.51.100.1")).status_code == 429
    assert login(client, email, PASSWORD, **via_proxy("198.51.100.2")).status_code == 200


def test_behind_one_proxy_only_the_value_it_appended_counts(proxied, catalog):
    client = proxied.test_client()
    for i in range(10):  # the client's own value comes first; the proxy appends the real one
        forged = via_proxy(f"203.0.113.{i}, 198.51.100.1")
        assert login(client, f"guess{i}@example.org", **forged).status_code == 401
    assert login(client, "guess@example.org", **via_proxy("203.0.113.99, 198.51.100.1")
                 ).status_code == 429
    # Nor can another client pass for the locked-out one (or anyone) by writing its address.
    assert login(client, "guess@example.org", **via_proxy("198.51.100.1, 198.51.100.2")
                 ).status_code == 401


def test_behind_one_proxy_sign_ups_are_counted_per_client(proxied, catalog):
    client = proxied.test_client()
    for i in range(11):  # eleven clients: the site takes more than ten sign-ups an hour
        answer = client.post("/api/v1/auth/register", **via_proxy(f"198.51.100.{i}"), json={
            "email": f"new{i}@example.org", "password": "a long enough secret",
            "display_name": "N"})
        assert answer.status_code == 201, answer.get_json()


def test_a_redirect_keeps_the_forwarded_prefix_and_the_query(proxied, catalog):
    answer = proxied.test_client().get("/api/v1//tracks?career=data", **via_proxy(
        "198.51.100.1", **{"X-Forwarded-Prefix": "/academy", "X-Forwarded-Host": "academy.test"}))
    assert answer.status_code == 308
    assert answer.headers["Location"] == "/academy/api/v1/tracks?career=data"


def test_under_a_prefix_forms_and_cookies_follow_it(proxied, catalog):
    with proxied.app_context():
        email = make_user().email
    under = via_proxy("198.51.100.1", **{"X-Forwarded-Prefix": "/academy",
                                          "X-Forwarded-Proto": "https"})
    client = proxied.test_client()
    page = client.get("/login", **under)
    html = page.get_data(as_text=True)
    assert 'action="/academy/login"' in html
    assert re.search(r'href="/academy/static/[^"]+\.css"', html)
    assert "Path=/academy" in page.headers["Set-Cookie"]
    answer = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD,
                                                     "remember": True}, **under)
    assert answer.status_code == 200
    cookies = answer.headers.getlist("Set-Cookie")
    assert {c.split("=")[0] for c in cookies} >= {"session", "remember_token"}
    assert all("Path=/academy" in c for c in cookies), cookies
    # Signing out clears them at the same path (a cookie is only replaced where it lives).
    # The browser sends them to /academy/…, which the proxy passes on as /…: sent by hand here.
    jar = "; ".join(c.split(";")[0] for c in cookies)
    out = proxied.test_client(use_cookies=False).post(
        "/api/v1/auth/logout", environ_base=under["environ_base"],
        headers={**under["headers"], "Cookie": jar, "X-CSRF-Token": answer.get_json()["csrf_token"]})
    assert out.status_code == 204
    cleared = out.headers.getlist("Set-Cookie")
    assert {c.split("=")[0] for c in cleared} >= {"session", "remember_token"}, cleared
    assert all("Path=/academy" in c for c in cleared), cleared


def test_the_origin_check_accepts_the_forwarded_origin_and_refuses_others(proxied, catalog):
    with proxied.app_context():
        email = make_user().email
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "academy.test",
                 "X-Forwarded-Port": "8443"}
    client = proxied.test_client()
    own = login(client, email, PASSWORD, **via_proxy(
        "198.51.100.1", **forwarded, Origin="https://academy.test:8443"))
    assert own.status_code == 200, own.get_json()
    other = login(proxied.test_client(), email, PASSWORD, **via_proxy(
        "198.51.100.1", **forwarded, Origin="http://academy.test:8443"))
    assert other.status_code == 403


def test_a_base_url_under_a_prefix_still_names_our_origin(app_factory, catalog):
    """ACADEMY_BASE_URL=https://host/academy: its origin is https://host, the prefix is no
    part of it, so a sign-in posted from our own pages (Origin: https://host) is ours."""
    app = app_factory(BASE_URL="https://learn.example/academy")
    with app.app_context():
        email = make_user().email
    own = login(app.test_client(), email, PASSWORD, headers={"Origin": "https://learn.example"})
    assert own.status_code == 200, own.get_json()
    other = login(app.test_client(), email, PASSWORD, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403


# --- Rate-limit headers, and bodies too large to count ----------------------------------------

def test_no_answer_shows_rate_limit_counters_and_only_a_429_says_when_to_retry(app, catalog):
    client = app.test_client()
    for i in range(10):
        answer = client.post("/api/v1/auth/register", json={
            "email": f"new{i}@example.org", "password": "a long enough secret", "display_name": "N"})
        assert answer.status_code == 201
        assert rate_limit_headers(answer) == []
    with app.app_context():
        email = make_user().email
    assert rate_limit_headers(login(app.test_client(), email, PASSWORD)) == []
    refused = client.post("/api/v1/auth/register", json={
        "email": "new10@example.org", "password": "a long enough secret", "display_name": "N"})
    assert refused.status_code == 429
    assert rate_limit_headers(refused) == ["Retry-After"]


def test_oversized_bodies_are_413_before_any_attempt_counts(app, catalog):
    """Declared too large or sent chunked, to the API or the sign-in page: each is refused
    before the limits count it (a chunked form used to be read cut at 64 KiB, and counted as a
    wrong password)."""
    with app.app_context():
        email = make_user().email
    client = app.test_client()
    csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    padding = "x" * (100 * 1024)
    form = f"csrf_token={csrf}&email={quote(email)}&password={padding}".encode()
    document = json.dumps({"email": email, "password": padding}).encode()
    sender = {"environ_base": {"REMOTE_ADDR": "203.0.113.8"}}
    chunked = {"headers": {"Transfer-Encoding": "chunked"},
               "environ_overrides": {"wsgi.input_terminated": True}}
    for _ in range(3):  # twelve in all, more than the ten attempts
        for path, body, content_type in (("/login", form, "application/x-www-form-urlencoded"),
                                         ("/api/v1/auth/login", document, "application/json")):
            declared = client.post(path, data=body, content_type=content_type, **sender)
            streamed = client.post(path, input_stream=io.BytesIO(body), content_type=content_type,
                                   **sender, **chunked)
            assert (declared.status_code, streamed.status_code) == (413, 413), path
            if path.startswith("/api/"):
                assert streamed.content_type == "application/problem+json"
    signed_in = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                            **sender)
    assert signed_in.status_code == 200, signed_in.get_json()


def test_a_key_function_never_raises_even_when_the_user_cannot_be_loaded(app_factory):
    """Flask-Limiter takes an error in a key function for its storage being down."""
    from flask import session

    from academy.accounts.limits import _user_or_ip

    app = app_factory("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with app.test_request_context("/api/v1/auth/tokens", method="POST",
                                  environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        session["_user_id"] = "1:1:a-session-key"  # well-formed: it is looked up
        assert _user_or_ip() == "ip:198.51.100.4"


# --- Production with the rate-limit storage down -------------------------------------------------

@needs_postgres
def test_in_production_a_dead_limit_store_shuts_the_limited_doors_only(app, catalog):
    """No per-process memory fallback and no skipped limits: sign-in answers 503 until Redis
    is back, and what is not rate limited (the catalog) goes on working."""
    port = free_port()
    env = academy_environ(TEST_DATABASE_URL, ACADEMY_ENV="production",
                          ACADEMY_REDIS_URL="redis://127.0.0.1:1/0",
                          ACADEMY_BIND=f"127.0.0.1:{port}", ACADEMY_WEB_WORKERS="1")
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "wsgi:app"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    import http.client

    def call(method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, body=json.dumps(body) if body else None,
                               headers={"Content-Type": "application/json"} if body else {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()

    def up():
        try:
            return call("GET", "/healthz")[0] == 200
        except OSError:
            return process.poll() is not None
    try:
        wait_until(up, timeout=60)
        assert process.poll() is None
        for _ in range(12):
            status, content_type, _ = call("POST", "/api/v1/auth/login",
                                           {"email": "a@example.org", "password": "guess guess"})
            assert (status, content_type) == (503, "application/problem+json")
        assert call("GET", "/api/v1/tracks")[0] == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert "falling back to in-memory storage" not in output
    assert "rate-limit storage unreachable" in output and "Traceback" not in output, output[-3000:]
