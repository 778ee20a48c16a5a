"""Signing out, changing the password and moving the address end what they should, server-side.

A signed cookie alone proves nothing once its sign-in has ended: these tests keep a copy of the
cookies from before and replay them from a new browser afterwards, as a thief would.
"""
from __future__ import annotations

from http.cookies import SimpleCookie

from sqlalchemy import func, select, update

from academy.accounts.models import LoginSession
from tests.accounts.test_account_mail import last_mail, token_in
from tests.helpers.clients import Learner, signed_in
from tests.helpers.factories import PASSWORD

NEW_PASSWORD = "a brand new long secret"


def new_browser(app) -> Learner:
    """A learner who has not signed in yet in this browser."""
    return Learner(app.test_client(), email=signed_in(app).email)


def cookies_of(response) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items() if morsel.value}


def replay(app, cookies: dict[str, str], method="GET", path="/api/v1/me", **kwargs):
    """A request from a new browser that holds only ``cookies``."""
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    # No cookie jar of its own: the test client would replace the Cookie header with it.
    return app.test_client(use_cookies=False).open(path, method=method, headers={
        "Cookie": header, **kwargs.pop("headers", {})}, **kwargs)


def test_a_session_cookie_replayed_after_sign_out_answers_401(app, catalog):
    learner = new_browser(app)
    cookies = cookies_of(learner.login())
    session_only = {"session": cookies["session"]}
    assert replay(app, session_only).status_code == 200  # the copy works while signed in
    assert learner.post("/api/v1/auth/logout").status_code == 204
    assert replay(app, session_only).status_code == 401
    # ... and neither does it create access tokens with the CSRF token it had.
    answer = replay(app, session_only, "POST", "/api/v1/auth/tokens", json={"name": "stolen"},
                    headers={"X-CSRF-Token": learner.csrf})
    assert answer.status_code == 401


def test_a_remember_cookie_replayed_after_sign_out_answers_401(app, catalog):
    learner = new_browser(app)
    cookies = cookies_of(learner.login(remember=True))
    remember_only = {"remember_token": cookies["remember_token"]}
    assert replay(app, remember_only).status_code == 200  # signs in on its own
    assert learner.post("/api/v1/auth/logout").status_code == 204
    assert replay(app, remember_only).status_code == 401


def test_signing_out_ends_only_this_sign_in(app, catalog):
    learner = signed_in(app)
    other = Learner(app.test_client(), email=learner.email)
    other.login()
    assert learner.post("/api/v1/auth/logout").status_code == 204
    assert learner.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 200


def test_the_web_sign_out_ends_the_sign_in_too(app, catalog):
    learner = new_browser(app)
    cookies = cookies_of(learner.login(remember=True))
    csrf = learner.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    assert learner.client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert replay(app, {"session": cookies["session"]}).status_code == 401
    assert replay(app, {"remember_token": cookies["remember_token"]}).status_code == 401


def test_expired_sign_ins_are_refused_and_cleared(app, catalog, database):
    learner = signed_in(app)
    with database() as session:
        session.execute(update(LoginSession).values(expires_at=LoginSession.created_at))
        session.commit()
    assert learner.get("/api/v1/me").status_code == 401
    Learner(app.test_client(), email=learner.email).login()
    with database() as session:  # the expired one went when the next sign-in started
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 1


# -- POST /me/password -------------------------------------------------------------------------

def test_changing_the_password_ends_every_other_way_in(app, catalog):
    learner = signed_in(app)
    other = Learner(app.test_client(), email=learner.email)
    remembered = cookies_of(other.login(remember=True))
    token = learner.post("/api/v1/auth/tokens", json={"name": "cli"}).get_json()["token"]
    answer = learner.post("/api/v1/me/password", json={"current_password": PASSWORD,
                                                       "new_password": NEW_PASSWORD})
    assert answer.status_code == 204
    assert learner.get("/api/v1/me").status_code == 200  # this session goes on
    assert other.get("/api/v1/me").status_code == 401
    assert replay(app, {"remember_token": remembered["remember_token"]}).status_code == 401
    bearer = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401
    assert Learner(app.test_client(), email=learner.email, password=NEW_PASSWORD).login()
    old = app.test_client().post("/api/v1/auth/login", json={"email": learner.email,
                                                            "password": PASSWORD})
    assert old.status_code == 401


def test_a_password_change_names_the_wrong_field(app, catalog):
    learner = signed_in(app)
    wrong = learner.post("/api/v1/me/password", json={"current_password": "not it at all",
                                                      "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]
    weak = learner.post("/api/v1/me/password", json={"current_password": PASSWORD,
                                                     "new_password": "short"})
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]
    assert learner.get("/api/v1/me").status_code == 200  # nothing ended


def test_a_token_with_the_account_scope_changes_the_password_and_keeps_itself(app, catalog):
    learner = signed_in(app)
    token = learner.post("/api/v1/auth/tokens", json={
        "name": "admin-cli", "scopes": ["learning", "account"]}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    answer = app.test_client().post("/api/v1/me/password", headers=headers, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert answer.status_code == 204
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    assert learner.get("/api/v1/me").status_code == 401  # the cookie session ended


# -- POST /me/email ----------------------------------------------------------------------------

def test_a_new_address_replaces_the_old_one_only_once_confirmed(app, catalog, database):
    learner = signed_in(app)
    old = learner.email
    answer = learner.post("/api/v1/me/email", json={"password": PASSWORD,
                                                    "email": "New.Address@Example.org"})
    assert answer.status_code == 202 and answer.get_json()["detail"]
    confirm = last_mail(database, "confirm_email_change")
    notice = last_mail(database, "email_change_requested")
    assert confirm.to_address == "new.address@example.org"
    assert notice.to_address == old and "new.address@example.org" in notice.text_body
    assert "/confirm-email-change?token=" in confirm.text_body
    assert learner.get("/api/v1/me").get_json()["email"] == old  # nothing changed yet
    token = token_in(confirm)
    assert app.test_client().post("/api/v1/me/email/confirm",
                                  json={"token": token}).status_code == 204
    me = learner.get("/api/v1/me").get_json()
    assert me["email"] == "new.address@example.org" and me["email_verified"] is True
    again = app.test_client().post("/api/v1/me/email/confirm", json={"token": token})
    assert again.status_code == 422  # works once
    Learner(app.test_client(), email="new.address@example.org").login()


def test_an_address_change_needs_the_password_and_a_free_address(app, catalog):
    learner = signed_in(app)
    taken = signed_in(app)
    wrong = learner.post("/api/v1/me/email", json={"password": "not it at all",
                                                   "email": "fresh@example.org"})
    assert wrong.status_code == 422 and "password" in wrong.get_json()["errors"]
    clash = learner.post("/api/v1/me/email", json={"password": PASSWORD, "email": taken.email})
    assert clash.status_code == 409 and "email" in clash.get_json()["errors"]
    same = learner.post("/api/v1/me/email", json={"password": PASSWORD, "email": learner.email})
    assert same.status_code == 422


def test_a_new_password_cancels_a_pending_address_change(app, catalog, database):
    learner = signed_in(app)
    learner.post("/api/v1/me/email", json={"password": PASSWORD, "email": "thief@example.org"})
    token = token_in(last_mail(database, "confirm_email_change"))
    assert learner.post("/api/v1/me/password", json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204
    answer = app.test_client().post("/api/v1/me/email/confirm", json={"token": token})
    assert answer.status_code == 422
    assert learner.get("/api/v1/me").get_json()["email"] != "thief@example.org"


def test_the_confirmation_link_opens_a_page_that_says_at_once_if_it_cannot_work(app, catalog):
    answer = app.test_client().get("/confirm-email-change?token=forged")
    assert answer.status_code == 400
    assert "does not work" in answer.get_data(as_text=True)
