"""The unsubscribe pages: GET only asks, POST (RFC 8058 one-click) turns mail off at once."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import pytest
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select, update

from academy.accounts.emails import verify_email
from academy.accounts.models import User
from academy.extensions import db
from academy.http import HTML_CSP as CSP
from academy.notifications.models import MailStatus, UnsubscribeToken
from academy.notifications.relay import relay_pending
from academy.notifications.service import (
    UNSUBSCRIBE_TOKEN_LIFETIME,
    make_unsubscribe_token,
    queue_mail,
)
from academy.timeutil import utcnow
from tests.helpers.clients import signed_in
from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import outbox, parse

BASE = "http://academy.test"


def preferences(user) -> tuple[bool, bool]:
    db.session.refresh(user)
    return user.reminders_enabled, user.badge_emails_enabled


def assert_page(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    return response.get_data(as_text=True)


def mail_token(user, key: str = "r", category: str = "reminder") -> str:
    """Queue a mail as a domain does and return the token of its List-Unsubscribe link."""
    message = queue_mail("verify_email", user.email, verify_email(user, "t"), key=key,
                         user_id=user.id, category=category)
    db.session.commit()
    link = message.headers["List-Unsubscribe"]
    assert link.startswith(f"<{BASE}/unsubscribe/") and link.endswith(">")
    return link[len(f"<{BASE}/unsubscribe/"):-1]


def token_for(user, category: str = "reminders") -> str:
    token = make_unsubscribe_token(user.id, category)
    db.session.commit()
    return token


def tokens_of(user_id: int) -> list[UnsubscribeToken]:
    db.session.expire_all()
    return list(db.session.scalars(select(UnsubscribeToken)
                                   .where(UnsubscribeToken.user_id == user_id)))


def test_get_asks_to_confirm_and_changes_nothing(ctx, client):
    user = make_user()
    token = token_for(user)

    for _ in range(3):  # link scanners may fetch it many times
        page = assert_page(client.get(f"/unsubscribe/{token}"), 200)

    assert "Stop reminder emails?" in page
    assert f'<form method="post" action="/unsubscribe/{token}">' in page
    assert preferences(user) == (True, True)


def test_post_without_cookie_or_csrf_token_unsubscribes_at_once(ctx, client):
    user = make_user()
    token = token_for(user)

    response = client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")

    assert "You are unsubscribed from reminder emails" in assert_page(response, 200)
    assert preferences(user) == (False, True)
    # Again (a mail client retrying): same answer, still off.
    assert_page(client.post(f"/unsubscribe/{token}"), 200)
    assert preferences(user) == (False, True)


def test_badge_link_turns_off_badge_mail_only(ctx, client):
    user = make_user()
    page = assert_page(client.post(f"/unsubscribe/{token_for(user, 'badges')}"),
                       200)
    assert "You are unsubscribed from badge emails" in page
    assert preferences(user) == (True, False)


def test_unsubscribing_cancels_pending_mail_of_that_kind_only(ctx, client, smtp):
    server = smtp()
    user = make_user()
    for key, category in (("r", "reminder"), ("b", "badge"), ("a", "account")):
        queue_mail("verify_email", user.email, verify_email(user, "t"), key=key,
                   user_id=user.id, category=category)
    db.session.commit()

    client.post(f"/unsubscribe/{token_for(user)}")
    relay_pending()

    statuses = {row.key: row.status for row in outbox()}
    assert statuses == {"r": MailStatus.cancelled, "b": MailStatus.sent, "a": MailStatus.sent}
    assert len(server.delivered) == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_token_is_a_404_page(app, ctx, client, method):
    user = make_user()
    good = token_for(user)
    forged = URLSafeSerializer("another-secret", salt="academy.notifications.unsubscribe")
    for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "nonsense",
                  forged.dumps([user.id, "reminders"])):
        page = assert_page(getattr(client, method)(f"/unsubscribe/{token}"), 404)
        assert "not valid" in page
    assert preferences(user) == (True, True)


def test_the_link_in_a_mail_is_a_random_value_and_only_its_hash_is_stored(app, ctx):
    user = make_user()
    first, second = mail_token(user, key="r1"), mail_token(user, key="r2")

    # Random, not derived from the learner: each mail has its own, of a random id's shape.
    assert first != second
    for token in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token), token
        # Nothing signed inside to decode (the old links were itsdangerous (user id, category)).
        with pytest.raises(BadData):
            URLSafeSerializer(app.config["SECRET_KEY"],
                              salt="academy.notifications.unsubscribe").loads(token)
    # The table holds hashes only: its rows never contain a value that works in a link.
    rows = tokens_of(user.id)
    assert sorted(row.token_hash for row in rows) == sorted(
        hashlib.sha256(t.encode()).hexdigest() for t in (first, second))
    stored = " ".join(str(value) for row in db.session.execute(select(UnsubscribeToken.__table__))
                      for value in row)
    assert first not in stored and second not in stored
    assert {row.preference for row in rows} == {"reminders"}


def test_a_mail_has_one_token_stable_across_retries_and_a_duplicate_adds_none(ctx, smtp):
    server = smtp(fail_first=1)
    user = make_user()
    token = mail_token(user, key="same")
    assert queue_mail("verify_email", user.email, verify_email(user, "t"), key="same",
                      user_id=user.id, category="reminder") is None
    db.session.commit()
    assert len(tokens_of(user.id)) == 1

    relay_pending()  # refused once (451), then sent as stored
    relay_pending(now=outbox()[0].next_attempt_at)

    assert len(server.attempts) == 2 and len(server.delivered) == 1
    links = {parse(raw)["List-Unsubscribe"] for raw in server.attempts}
    assert links == {f"<{BASE}/unsubscribe/{token}>"}


def test_the_mail_link_works_as_a_one_click_post_with_no_cookie(app, ctx):
    user = make_user()
    token = mail_token(user, category="badge")
    bare = app.test_client(use_cookies=False)

    response = bare.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")

    assert "You are unsubscribed from badge emails" in assert_page(response, 200)
    assert preferences(user) == (True, False)
    assert tokens_of(user.id)[0].last_used_at is not None


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_expired_link_shows_the_invalid_page_and_changes_nothing(ctx, client, method):
    user = make_user()
    old, recent = mail_token(user, key="old"), mail_token(user, key="recent")
    now = utcnow()
    for token, age in ((old, UNSUBSCRIBE_TOKEN_LIFETIME + timedelta(minutes=1)),
                       (recent, UNSUBSCRIBE_TOKEN_LIFETIME - timedelta(days=1))):
        db.session.execute(update(UnsubscribeToken)
                           .where(UnsubscribeToken.token_hash
                                  == hashlib.sha256(token.encode()).hexdigest())
                           .values(created_at=now - age))
    db.session.commit()

    page = assert_page(getattr(client, method)(f"/unsubscribe/{old}"), 404)
    assert "This unsubscribe link is not valid" in page and 'href="/settings"' in page
    assert preferences(user) == (True, True)
    assert [row.last_used_at for row in tokens_of(user.id)] == [None, None]
    assert outbox(key="old")[0].status is MailStatus.pending
    # A link from a mail read a day before the limit still works.
    assert getattr(client, method)(f"/unsubscribe/{recent}").status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_random_token_is_the_404_page(ctx, client, method):
    user = make_user()
    mail_token(user)
    page = assert_page(getattr(client, method)(f"/unsubscribe/{secrets.token_urlsafe(24)}"), 404)
    assert "not valid" in page and 'href="/settings"' in page
    assert preferences(user) == (True, True)


def test_erasing_the_account_deletes_its_tokens(app, database):
    learner = signed_in(app)
    with database():
        user = db.session.get(User, learner.user_id)
        token = mail_token(user)
        other = make_user()
        kept = token_for(other, "badges")
        other_id = other.id

    assert learner.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 204

    with database():
        assert tokens_of(learner.user_id) == []
        assert len(tokens_of(other_id)) == 1
    bare = app.test_client(use_cookies=False)
    assert bare.get(f"/unsubscribe/{token}").status_code == 404
    assert bare.post(f"/unsubscribe/{token}").status_code == 404
    assert bare.get(f"/unsubscribe/{kept}").status_code == 200
