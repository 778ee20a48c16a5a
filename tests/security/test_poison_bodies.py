"""Bodies built to break the parser: refused with a problem, and never a way around the limits.

A login whose email was 1,000 nested arrays made the limiter's key function raise
RecursionError; Flask-Limiter took that for Redis being down and moved the process onto its
own in-memory counters, so guesses interleaved with such requests escaped the shared limit.
"""
from __future__ import annotations

import pytest

from academy.accounts.limits import _email_in_body
from academy.extensions import limiter
from academy.http import MAX_JSON_DEPTH
from tests.helpers.services import TEST_REDIS_URL

DEEP = '{"email": ' + "[" * 1000 + "]" * 1000 + ', "password": "x"}'


def post(client, body: str, ip="203.0.113.9"):
    return client.post("/api/v1/auth/login", data=body, content_type="application/json",
                       environ_base={"REMOTE_ADDR": ip})


def test_json_nested_too_deep_is_a_400_problem_before_anything_parses_it(app, caplog):
    response = post(app.test_client(), DEEP)
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert str(MAX_JSON_DEPTH) in response.get_json()["detail"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    # A body exactly at the limit is read as usual (and fails validation, not parsing).
    at_limit = '{"email": ' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    assert post(app.test_client(), at_limit).status_code == 422


def test_the_key_function_never_raises_whatever_the_body(app):
    with app.test_request_context("/api/v1/auth/login", method="POST", data=DEEP,
                                  content_type="application/json",
                                  environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        assert _email_in_body() == "ip:198.51.100.4"


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: set ACADEMY_TEST_REDIS_URL (CI does)")
def test_poison_requests_between_guesses_leave_the_limits_in_redis(app_factory, catalog):
    client = app_factory().test_client()
    for _ in range(10):
        assert post(client, DEEP).status_code == 400
        guess = post(client, '{"email": "victim@example.org", "password": "wrong guess!!"}')
        assert guess.status_code == 401
        assert not limiter._storage_dead, "a bad body moved the limits onto per-process counters"
    assert post(client, '{"email": "victim@example.org", "password": "wrong guess!!"}').status_code == 429
