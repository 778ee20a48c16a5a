"""Verification and password reset, end to end: the mail's link is the only way in."""
from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from academy.notifications.models import OutboxMessage
from academy.timeutil import utcnow
from tests.helpers.clients import Learner, signed_in
from tests.helpers.factories import PASSWORD

REGISTER = {"email": "ada@example.org", "password": "a long enough secret", "display_name": "Ada"}


def last_mail(database, template: str) -> OutboxMessage:
    with database() as session:
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)
                               .order_by(OutboxMessage.id.desc())).first()
        session.expunge_all()
    assert mail is not None, f"no {template} mail was queued"
    return mail


def token_in(mail: OutboxMessage) -> str:
    return re.search(r"token=([\w.\-]+)", mail.text_body).group(1)


def test_register_sends_a_verification_mail_that_verifies(app, client, database):
    assert client.post("/api/v1/auth/register", json=REGISTER).status_code == 201
    mail = last_mail(database, "verify_email")
    assert mail.to_address == "ada@example.org" and "List-Unsubscribe" not in mail.headers
    token = token_in(mail)
    assert client.post("/api/v1/auth/verify-email", json={"token": "forged"}).status_code == 422
    assert client.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 204
    learner = Learner(app.test_client(), email="ada@example.org", password=REGISTER["password"])
    learner.login()
    assert learner.get("/api/v1/me").get_json()["email_verified"] is True


def test_the_verification_page_confirms_only_on_post(app, client, database):
    client.post("/api/v1/auth/register", json=REGISTER)
    token = token_in(last_mail(database, "verify_email"))
    page = client.get(f"/verify-email?token={token}")
    assert page.status_code == 200 and b"<form" in page.data
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    learner = Learner(app.test_client(), email="ada@example.org", password=REGISTER["password"])
    learner.login()
    assert learner.get("/api/v1/me").get_json()["email_verified"] is False  # GET changed nothing
    done = client.post("/verify-email", data={"token": token})
    assert done.status_code == 200 and b"confirmed" in done.data
    assert learner.get("/api/v1/me").get_json()["email_verified"] is True


def test_verification_links_expire(client, database):
    client.post("/api/v1/auth/register", json=REGISTER)
    token = token_in(last_mail(database, "verify_email"))
    with time_machine.travel(utcnow() + timedelta(hours=49)):
        response = client.post("/api/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 422 and response.get_json()["errors"] == {"token": ["Expired."]}


def test_password_reset_answers_alike_for_unknown_addresses(app, client, database):
    learner = signed_in(app)
    known = client.post("/api/v1/auth/password-reset", json={"email": learner.email})
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.data == unknown.data
    with database() as session:
        mails = session.scalars(select(OutboxMessage.to_address)
                                .where(OutboxMessage.template == "password_reset")).all()
    assert mails == [learner.email]


def test_password_reset_works_once_and_ends_every_other_session(app, client, database):
    learner = signed_in(app)
    token_holder = Learner(app.test_client(), email=learner.email)
    token_holder.login()
    token_holder.bearer = token_holder.post("/api/v1/auth/tokens", json={"name": "x"}).get_json()["token"]
    client.post("/api/v1/auth/password-reset", json={"email": learner.email})
    mail = last_mail(database, "password_reset")
    assert "List-Unsubscribe" not in mail.headers
    token = token_in(mail)
    confirm = {"token": token, "password": "my new long password"}
    assert client.post("/api/v1/auth/password-reset/confirm", json=confirm).status_code == 204
    # Single use.
    again = client.post("/api/v1/auth/password-reset/confirm",
                        json=dict(confirm, password="another one please"))
    assert again.status_code == 422
    # Every other session and token has ended; the new password works, the old does not.
    assert learner.get("/api/v1/me").status_code == 401
    assert token_holder.get("/api/v1/me").status_code == 401
    old = client.post("/api/v1/auth/login", json={"email": learner.email, "password": PASSWORD})
    assert old.status_code == 401
    Learner(app.test_client(), email=learner.email, password="my new long password").login()


def test_reset_links_expire_after_an_hour(app, client, database):
    learner = signed_in(app)
    client.post("/api/v1/auth/password-reset", json={"email": learner.email})
    token = token_in(last_mail(database, "password_reset"))
    with time_machine.travel(utcnow() + timedelta(minutes=61)):
        response = client.post("/api/v1/auth/password-reset/confirm",
                               json={"token": token, "password": "my new long password"})
    assert response.status_code == 422


def test_the_reset_page_sets_the_password(app, client, database):
    learner = signed_in(app)
    client.post("/api/v1/auth/password-reset", json={"email": learner.email})
    token = token_in(last_mail(database, "password_reset"))
    assert client.get(f"/reset-password?token={token}").status_code == 200
    short = client.post("/reset-password", data={"token": token, "password": "short"})
    assert short.status_code == 400
    done = client.post("/reset-password", data={"token": token, "password": "my new long password"})
    assert done.status_code == 200
    Learner(app.test_client(), email=learner.email, password="my new long password").login()
