"""What a personal access token may do: its scopes, and its expiry."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine

from academy.timeutil import utcnow
from tests.helpers.clients import signed_in
from tests.helpers.factories import PASSWORD


def bearer(app, token):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, path, **kwargs):
        return client.open(path, method=method, headers=headers, **kwargs)
    return call


def make_token(learner, **body):
    answer = learner.post("/api/v1/auth/tokens", json={"name": "t", **body})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


ACCOUNT_OPERATIONS = [
    ("GET", "/api/v1/auth/tokens", None),
    ("POST", "/api/v1/auth/tokens", {"name": "minted"}),
    ("DELETE", "/api/v1/auth/tokens/{own_id}", None),
    ("POST", "/api/v1/me/password", {"current_password": PASSWORD,
                                     "new_password": "another long secret"}),
    ("POST", "/api/v1/me/email", {"password": PASSWORD, "email": "elsewhere@example.org"}),
    ("DELETE", "/api/v1/me", {"password": PASSWORD}),
]


def test_a_new_token_may_learn_for_ninety_days_by_default(app, catalog):
    learner = signed_in(app)
    token = make_token(learner)
    assert token["scopes"] == ["learning"]
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert abs(expires.replace(tzinfo=None) - (utcnow() + timedelta(days=90))) < timedelta(minutes=1)
    call = bearer(app, token["token"])
    assert call("POST", "/api/v1/enrollments", json={"track": "basics"}).status_code == 201
    assert call("PUT", "/api/v1/enrollments/basics/lessons/intro",
                json={"status": "completed"}).status_code == 200
    assert call("PATCH", "/api/v1/me", json={"display_name": "Renamed"}).status_code == 200
    assert call("GET", "/api/v1/me/export").status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ACCOUNT_OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in ACCOUNT_OPERATIONS])
def test_a_learning_token_cannot_manage_the_account(app, catalog, method, path, body):
    learner = signed_in(app)
    token = make_token(learner)
    answer = bearer(app, token["token"])(method, path.format(own_id=token["id"]), json=body)
    assert answer.status_code == 403
    assert "account" in answer.get_json()["detail"]
    # Nothing changed: the account, its password and its tokens are as they were.
    assert learner.get("/api/v1/me").get_json()["email"] == learner.email
    assert len(learner.get("/api/v1/auth/tokens").get_json()["items"]) == 1


def test_an_account_token_may_manage_tokens(app, catalog):
    learner = signed_in(app)
    call = bearer(app, make_token(learner, scopes=["account", "learning"])["token"])
    minted = call("POST", "/api/v1/auth/tokens", json={"name": "minted"})
    assert minted.status_code == 201 and minted.get_json()["scopes"] == ["learning"]
    assert call("DELETE", f"/api/v1/auth/tokens/{minted.get_json()['id']}").status_code == 204


def test_admin_endpoints_need_the_admin_scope_even_for_an_admin(app, catalog):
    admin = signed_in(app, is_admin=True)
    plain = bearer(app, make_token(admin)["token"])
    assert plain("GET", "/api/v1/admin/tracks/basics/stats").status_code == 403
    scoped = bearer(app, make_token(admin, scopes=["admin"])["token"])
    assert scoped("GET", "/api/v1/admin/tracks/basics/stats").status_code == 200
    # The cookie session of an admin needs no scope.
    assert admin.get("/api/v1/admin/tracks/basics/stats").status_code == 200


@pytest.mark.parametrize("body", [{"expires_in_days": 0}, {"expires_in_days": 366},
                                  {"expires_in_days": "30"}, {"scopes": ["root"]},
                                  {"scopes": []}])
def test_bad_token_requests_name_the_field(app, catalog, body):
    learner = signed_in(app)
    answer = learner.post("/api/v1/auth/tokens", json={"name": "t", **body})
    assert answer.status_code == 422
    assert {field.split(".")[0] for field in answer.get_json()["errors"]} == set(body)


def test_an_expired_token_answers_401_saying_so(app, catalog):
    learner = signed_in(app)
    token = make_token(learner, expires_in_days=1)
    call = bearer(app, token["token"])
    assert call("GET", "/api/v1/me").status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=1, minutes=1), tick=False):
        answer = call("GET", "/api/v1/me")
    assert answer.status_code == 401
    assert "expired" in answer.get_json()["detail"]
