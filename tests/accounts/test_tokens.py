"""Personal access tokens: shown once, stored hashed, listed with last use, revocable."""
from __future__ import annotations

from sqlalchemy import select

from academy.accounts.models import AccessToken
from tests.helpers.clients import Learner, signed_in


def test_token_lifecycle(app, database, catalog):
    owner = signed_in(app)
    created = owner.post("/api/v1/auth/tokens", json={"name": "laptop"})
    assert created.status_code == 201
    body = created.get_json()
    secret = body["token"]
    assert secret.startswith("hka_") and body["name"] == "laptop"
    # Only a hash is stored.
    with database() as session:
        stored = session.scalar(select(AccessToken))
        assert secret not in stored.token_hash and stored.prefix == secret[:10]

    api = Learner(app.test_client())
    api.bearer = secret
    me = api.get("/api/v1/me")
    assert me.status_code == 200 and me.get_json()["email"] == owner.email
    # Bearer writes need no CSRF token.
    assert api.enroll("basics").status_code == 201

    listed = owner.get("/api/v1/auth/tokens").get_json()
    assert listed["total"] == 1
    assert "token" not in listed["items"][0] and listed["items"][0]["last_used_at"]

    assert owner.delete(f"/api/v1/auth/tokens/{body['id']}").status_code == 204
    assert api.get("/api/v1/me").status_code == 401


def test_bad_bearer_tokens_are_401_not_anonymous(app, catalog):
    api = Learner(app.test_client())
    api.bearer = "hka_not-a-real-token"
    assert api.get("/api/v1/me").status_code == 401
    assert app.test_client().get("/api/v1/tracks", headers={"Authorization": "Basic abc"}).status_code == 401


def test_another_learners_token_cannot_be_deleted(app, catalog):
    a, b = signed_in(app), signed_in(app)
    token_id = a.post("/api/v1/auth/tokens", json={"name": "a"}).get_json()["id"]
    assert b.delete(f"/api/v1/auth/tokens/{token_id}").status_code == 404
    assert a.get("/api/v1/auth/tokens").get_json()["total"] == 1
    assert b.get("/api/v1/auth/tokens").get_json() == {"items": [], "total": 0}
