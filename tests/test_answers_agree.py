"""Answers agree with each other: the same JSON whatever the status, bodies where a client
expects one, one Date header, and a limit that holds whatever the framing."""
from __future__ import annotations

import io
import json

import pytest

from tests.helpers.clients import signed_in


def compact(body: bytes) -> bytes:
    return json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True).encode() + b"\n"


def test_errors_and_successes_are_serialised_alike(app, catalog):
    client = app.test_client()
    success = client.get("/api/v1/tracks")
    error = client.get("/api/v1/tracks/no-such-track")
    assert (success.status_code, error.status_code) == (200, 404)
    assert success.get_data() == compact(success.get_data())
    assert error.get_data() == compact(error.get_data())


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/auth/password-reset", {"email": "someone@example.org"}),
])
def test_a_202_answers_a_small_json_body(app, catalog, path, body):
    answer = app.test_client().post(path, json=body)
    assert answer.status_code == 202
    assert isinstance(answer.get_json()["detail"], str)


def test_resending_the_verification_answers_a_body_too(app, catalog):
    learner = signed_in(app, verified=False)
    answer = learner.post("/api/v1/auth/verify-email/resend")
    assert answer.status_code == 202 and answer.get_json()["detail"]


def test_the_app_leaves_the_date_header_to_the_server(app, catalog):
    # gunicorn always writes Date; one from the app would make two (tests/security/
    # test_gunicorn.py counts them on the wire).
    for path in ("/api/v1/tracks", "/api/v1/tracks/basics", "/healthz"):
        assert "Date" not in app.test_client().get(path).headers, path
    etag = app.test_client().get("/api/v1/tracks").headers["ETag"]
    again = app.test_client().get("/api/v1/tracks", headers={"If-None-Match": etag})
    assert again.status_code == 304 and "Date" not in again.headers


def test_a_chunked_body_over_the_limit_answers_413(app, catalog):
    body = json.dumps({"email": "a" * 100_000, "password": "x"}).encode()
    answer = app.test_client().post(
        "/api/v1/auth/login", input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_base={"wsgi.input_terminated": True})
    assert answer.status_code == 413
    assert answer.content_type == "application/problem+json"


@pytest.mark.parametrize("path", ["/verify-email?token=forged", "/reset-password?token=forged",
                                  "/confirm-email-change?token=forged", "/reset-password"])
def test_a_mail_link_that_cannot_work_says_so_at_once(app, catalog, path):
    page = app.test_client().get(path)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "This link does not work" in text
    assert 'type="password"' not in text  # no form that could only fail
