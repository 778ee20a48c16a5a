"""The penetration test's reproductions, against what production runs: ``gunicorn wsgi:app`` with
two workers, ``ACADEMY_ENV=production``, PostgreSQL and Redis, spoken to over real sockets."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from http.cookies import SimpleCookie

import pytest

from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import free_port
from tests.helpers.services import (
    ROOT,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    academy_environ,
    needs_postgres,
    needs_redis,
    wait_until,
)

pytestmark = [needs_postgres, needs_redis]


@pytest.fixture(scope="module")
def gunicorn(app):
    port = free_port()
    env = academy_environ(TEST_DATABASE_URL, ACADEMY_ENV="production",
                          ACADEMY_REDIS_URL=TEST_REDIS_URL)
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)

    def healthy():
        try:
            return call(port, "GET", "/healthz")[0] == 200
        except OSError:
            return False
    try:
        wait_until(healthy, timeout=30)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
        assert "Traceback" not in output, output[-3000:]


@pytest.fixture(autouse=True)
def _fresh_limits():
    """gunicorn counts in Redis (the test apps count in memory): every test starts from zero."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter("LIMITS*"):
        client.delete(key)
    yield
    client.close()


def call(port, method, path, body=None, cookies=None, headers=None, raw_body: bytes | None = None):
    """(status, headers as a list of pairs, parsed JSON or None) from one new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = dict(headers or {})
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = raw_body if raw_body is not None else (json.dumps(body).encode()
                                                   if body is not None else None)
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = None
    return response.status, response.getheaders(), parsed


def cookies_from(headers) -> dict[str, str]:
    jar = SimpleCookie()
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    return {name: morsel.value for name, morsel in jar.items() if morsel.value}


def test_poison_bodies_between_guesses_leave_ten_guesses(gunicorn, catalog, app):
    with app.app_context():
        email = make_user().email
    poison = b'{"email": ' + b"[" * 1000 + b"]" * 1000 + b', "password": "x"}'
    statuses = []
    for _ in range(14):
        status, _, problem = call(gunicorn, "POST", "/api/v1/auth/login", raw_body=poison)
        assert status == 400 and problem["status"] == 400
        statuses.append(call(gunicorn, "POST", "/api/v1/auth/login",
                             {"email": email, "password": "wrong password!"})[0])
    assert statuses == [401] * 10 + [429] * 4


def test_a_signed_out_session_replayed_answers_401(gunicorn, catalog, app):
    with app.app_context():
        email = make_user().email
    status, headers, answer = call(gunicorn, "POST", "/api/v1/auth/login",
                                   {"email": email, "password": PASSWORD, "remember": True})
    assert status == 200
    cookies, csrf = cookies_from(headers), answer["csrf_token"]
    assert call(gunicorn, "GET", "/api/v1/me", cookies=cookies)[0] == 200
    assert call(gunicorn, "POST", "/api/v1/auth/logout", cookies=cookies,
                headers={"X-CSRF-Token": csrf})[0] == 204
    for stolen in ({"session": cookies["session"]},
                   {"remember_token": cookies["remember_token"]}):
        for _ in range(4):  # whichever worker answers
            assert call(gunicorn, "GET", "/api/v1/me", cookies=stolen)[0] == 401
        status = call(gunicorn, "POST", "/api/v1/auth/tokens", {"name": "stolen"},
                      cookies=stolen, headers={"X-CSRF-Token": csrf})[0]
        assert status == 401


@pytest.mark.parametrize("path", ["/api/v1/tracks", "/api/v1/tracks/no-such-track", "/healthz"])
def test_one_date_header_per_answer(gunicorn, catalog, path):
    # A guard on the deployment, not the proof: gunicorn 27 drops a Date header an app sets
    # (it counts it hop-by-hop), so this passes even if the app sent one. The proof that the
    # app sends none is tests/test_answers_agree.py::test_the_app_leaves_the_date_header_to_the_server.
    _, headers, _ = call(gunicorn, "GET", path)
    assert [name.lower() for name, _ in headers].count("date") == 1


def test_bad_bytes_in_paths_answer_without_a_traceback(gunicorn, catalog):
    for path in ("/api/v1/tracks/ml-fundamentals%00", "/api/v1/tracks?career=%00",
                 "/badges/%00"):
        status = call(gunicorn, "GET", path)[0]
        assert status in (400, 404, 422), (path, status)
    # ... and the module's teardown finds no traceback in gunicorn's output.
