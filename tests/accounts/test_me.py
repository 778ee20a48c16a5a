"""``/me``: profile and preferences, export, erasure; ``users promote``."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from academy.accounts.models import User
from academy.extensions import db
from academy.learning.models import Enrollment
from tests.helpers.clients import Learner, signed_in
from tests.helpers.factories import PASSWORD, make_user


def test_patch_me_changes_preferences(learner):
    response = learner.patch("/api/v1/me", json={
        "timezone": "Asia/Kolkata", "reminder_hour": 7,
        "email_preferences": {"reminders": False}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["timezone"] == "Asia/Kolkata" and body["reminder_hour"] == 7
    assert body["email_preferences"] == {"reminders": False, "badges": True}
    assert learner.get("/api/v1/me").get_json()["email_preferences"]["reminders"] is False


@pytest.mark.parametrize("body,field", [
    ({"reminder_hour": 24}, "reminder_hour"),
    ({"reminder_hour": "7"}, "reminder_hour"),
    ({"reminder_hour": 7.5}, "reminder_hour"),
    ({"email_preferences": {"reminders": "no"}}, "email_preferences.reminders"),
    ({"email_preferences": {"spam": True}}, "email_preferences.spam"),
    ({"timezone": "CEST"}, "timezone"),
    ({"email": "new@example.org"}, "email"),
    ({"is_admin": True}, "is_admin"),
])
def test_patch_me_rejects_wrong_types_and_unknown_fields(learner, body, field):
    before = learner.get("/api/v1/me").get_json()
    response = learner.patch("/api/v1/me", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert learner.get("/api/v1/me").get_json() == before


def test_body_must_be_a_json_object(learner):
    assert learner.patch("/api/v1/me", json=[1, 2]).status_code == 422
    assert learner.patch("/api/v1/me", data="{", content_type="application/json").status_code == 400
    assert learner.patch("/api/v1/me", data="reminder_hour=3",
                         content_type="application/x-www-form-urlencoded").status_code == 415


def test_export_holds_everything_stored(learner):
    learner.enroll("basics")
    learner.complete("basics", "intro")
    learner.post("/api/v1/auth/tokens", json={"name": "cli"})
    export = learner.get("/api/v1/me/export").get_json()
    assert export["user"]["email"] == learner.email
    assert export["enrollments"][0]["track"] == {"slug": "basics", "title": "Basics"}
    assert export["enrollments"][0]["completed_lessons"] == ["intro"]
    assert export["enrollments"][0]["completions"][0]["lesson"] == "intro"
    assert export["access_tokens"][0]["name"] == "cli"
    assert "token" not in export["access_tokens"][0]
    assert len(export["learning_days"]) == 1


def test_delete_me_needs_the_password(learner):
    response = learner.delete("/api/v1/me", json={"password": "wrong password"})
    assert response.status_code == 422
    assert learner.get("/api/v1/me").status_code == 200


def test_delete_me_erases_personal_data_and_keeps_counts(app, database, learner):
    learner.enroll("basics")
    learner.complete("basics", "intro")
    user_id = learner.get("/api/v1/me").get_json()["id"]
    assert learner.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 204
    assert learner.get("/api/v1/me").status_code == 401
    with database() as session:
        user = session.get(User, user_id)
        assert user.email is None and user.display_name == "" and user.password_hash == ""
        assert user.erased_at is not None
        # The anonymous enrollment still counts.
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1
    again = Learner(app.test_client(), email=learner.email)
    response = again.client.post("/api/v1/auth/login", json={"email": learner.email, "password": PASSWORD})
    assert response.status_code == 401


def test_users_promote(cli, ctx):
    make_user(email="boss@example.org")
    result = cli.invoke(args=["academy", "users", "promote", "Boss@Example.org"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.is_admin).where(User.email == "boss@example.org"))
    missing = cli.invoke(args=["academy", "users", "promote", "ghost@example.org"])
    assert missing.exit_code == 1 and "No account" in missing.output


def test_password_change_ends_every_other_session(app, database, catalog):
    from academy.accounts.service import change_password

    learner = signed_in(app)
    other_device = Learner(app.test_client(), email=learner.email)
    other_device.login(remember=True)
    with database() as session:
        change_password(session.get(User, learner.user_id), "a brand new password")
        session.commit()
    assert other_device.get("/api/v1/me").status_code == 401
    other_device.client.delete_cookie("session")
    assert other_device.get("/api/v1/me").status_code == 401  # the remember cookie died too
