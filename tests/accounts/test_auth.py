"""Sign-up, sign-in, sessions, CSRF and password reset, as a client does them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from academy.accounts.models import User
from tests.helpers.clients import Learner, signed_in
from tests.helpers.factories import PASSWORD, make_user

REGISTER = {"email": "  Ada@Example.org ", "password": "a long enough secret",
            "display_name": " Ada ", "timezone": "Europe/Berlin"}


def test_register_creates_an_unverified_account(client, database):
    response = client.post("/api/v1/auth/register", json=REGISTER)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["email"] == "ada@example.org"
    assert body["display_name"] == "Ada"
    assert body["timezone"] == "Europe/Berlin"
    assert body["email_verified"] is False
    assert body["reminder_hour"] == 18
    assert body["email_preferences"] == {"reminders": True, "badges": True}
    assert "password" not in body
    with database() as session:
        user = session.scalar(select(User).where(User.email == "ada@example.org"))
        assert user.password_hash.startswith("$argon2id$")
        assert "m=19456,t=2,p=1" in user.password_hash


def test_register_defaults_to_utc(client):
    body = dict(REGISTER, email="utc@example.org")
    del body["timezone"]
    assert client.post("/api/v1/auth/register", json=body).get_json()["timezone"] == "UTC"


@pytest.mark.parametrize("field,value,reason", [
    ("email", "not-an-address", "Not a valid email address"),
    ("email", 42, "Not a valid string"),
    ("password", "short", "Use between 10 and 1024 characters"),
    ("password", "x" * 1025, "Use between 10 and 1024 characters"),
    ("timezone", "Mars/Olympus_Mons", "Not an IANA time zone"),
    ("timezone", "../../etc/passwd", "Not an IANA time zone"),
    ("display_name", "", "Length must be between 1 and 100"),
    ("nickname", "ada", "Unknown field"),
])
def test_register_rejects_bad_fields_by_name(client, database, field, value, reason):
    response = client.post("/api/v1/auth/register", json=dict(REGISTER, **{field: value}))
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert reason in " ".join(response.get_json()["errors"][field])
    with database() as session:
        assert session.scalar(select(User)) is None  # nothing half-written


def test_register_a_taken_address_is_a_documented_409(client, database):
    with database():
        make_user(email="ada@example.org")
    response = client.post("/api/v1/auth/register", json=REGISTER)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"email": ["Already registered."]}


def test_login_answers_user_and_csrf_token(client, database):
    with database():
        make_user(email="ada@example.org")
    response = client.post("/api/v1/auth/login", json={"email": "ADA@example.org ",
                                                       "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == "ada@example.org" and body["csrf_token"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/api/v1/me").status_code == 200


def test_unknown_email_and_wrong_password_answer_alike(client, database):
    with database():
        make_user(email="ada@example.org")
    wrong = client.post("/api/v1/auth/login",
                        json={"email": "ada@example.org", "password": "nope nope nope"})
    unknown = client.post("/api/v1/auth/login",
                          json={"email": "bob@example.org", "password": "nope nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()


def test_anonymous_is_401(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def test_cookie_writes_need_the_csrf_token(app, catalog):
    learner = signed_in(app)
    learner.csrf = None
    response = learner.patch("/api/v1/me", json={"display_name": "Changed"})
    assert response.status_code == 403
    assert "X-CSRF-Token" in response.get_json()["detail"]
    wrong = learner.patch("/api/v1/me", json={"display_name": "Changed"},
                          headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    token = learner.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    ok = learner.patch("/api/v1/me", json={"display_name": "Changed"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.get_json()["display_name"] == "Changed"


def test_cross_site_login_is_refused(client, database):
    with database():
        make_user(email="ada@example.org")
    response = client.post("/api/v1/auth/login", json={"email": "ada@example.org", "password": PASSWORD},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert client.get("/api/v1/me").status_code == 401


def test_login_renews_the_session(app, database):
    with database():
        make_user(email="ada@example.org")
    client = app.test_client()
    before = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    learner = Learner(client, email="ada@example.org")
    learner.login()
    assert learner.csrf != before
    # The token issued before sign-in is worthless after it.
    response = learner.patch("/api/v1/me", json={"display_name": "X"}, headers={"X-CSRF-Token": before})
    assert response.status_code == 403


def test_logout_ends_the_session_and_clears_remember_cookie(app, database):
    with database():
        make_user(email="ada@example.org")
    learner = Learner(app.test_client(), email="ada@example.org")
    learner.login(remember=True)
    assert learner.client.get_cookie("remember_token") is not None
    assert learner.post("/api/v1/auth/logout").status_code == 204
    assert learner.client.get_cookie("remember_token") is None
    assert learner.get("/api/v1/me").status_code == 401


def test_remember_cookie_signs_back_in_without_a_session(app, database):
    with database():
        make_user(email="ada@example.org")
    learner = Learner(app.test_client(), email="ada@example.org")
    learner.login(remember=True)
    learner.client.delete_cookie("session")
    assert learner.get("/api/v1/me").status_code == 200


def test_password_is_rehashed_at_login_when_parameters_change(app, database):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with database() as session:
        user = make_user(email="ada@example.org")
        user.password_hash = weak
        session.commit()
        user_id = user.id
    Learner(app.test_client(), email="ada@example.org").login()
    with database() as session:
        assert "m=19456,t=2" in session.get(User, user_id).password_hash


@pytest.mark.parametrize("password", ["password123", "1234567890", "QwertyUIOP"])
def test_the_most_common_passwords_are_refused(client, database, password):
    response = client.post("/api/v1/auth/register", json=dict(REGISTER, password=password))
    assert response.status_code == 422
    assert "most common passwords" in response.get_json()["errors"]["password"][0]
