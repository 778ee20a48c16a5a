"""The unsubscribe pages: GET only asks, POST (RFC 8058 one-click) turns mail off at once."""
from __future__ import annotations

import pytest
from itsdangerous import URLSafeSerializer

from academy.accounts.emails import verify_email
from academy.extensions import db
from academy.http import HTML_CSP as CSP
from academy.notifications.models import MailStatus
from academy.notifications.relay import relay_pending
from academy.notifications.service import make_unsubscribe_token, queue_mail
from tests.helpers.factories import make_user
from tests.helpers.mail import outbox


def preferences(user) -> tuple[bool, bool]:
    db.session.refresh(user)
    return user.reminders_enabled, user.badge_emails_enabled


def assert_page(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP
    return response.get_data(as_text=True)


def test_get_asks_to_confirm_and_changes_nothing(ctx, client):
    user = make_user()
    token = make_unsubscribe_token(user.id, "reminders")

    for _ in range(3):  # link scanners may fetch it many times
        page = assert_page(client.get(f"/unsubscribe/{token}"), 200)

    assert "Stop reminder emails?" in page
    assert f'<form method="post" action="/unsubscribe/{token}">' in page
    assert preferences(user) == (True, True)


def test_post_without_cookie_or_csrf_token_unsubscribes_at_once(ctx, client):
    user = make_user()
    token = make_unsubscribe_token(user.id, "reminders")

    response = client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")

    assert "You are unsubscribed from reminder emails" in assert_page(response, 200)
    assert preferences(user) == (False, True)
    # Again (a mail client retrying): same answer, still off.
    assert_page(client.post(f"/unsubscribe/{token}"), 200)
    assert preferences(user) == (False, True)


def test_badge_link_turns_off_badge_mail_only(ctx, client):
    user = make_user()
    page = assert_page(client.post(f"/unsubscribe/{make_unsubscribe_token(user.id, 'badges')}"),
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

    client.post(f"/unsubscribe/{make_unsubscribe_token(user.id, 'reminders')}")
    relay_pending()

    statuses = {row.key: row.status for row in outbox()}
    assert statuses == {"r": MailStatus.cancelled, "b": MailStatus.sent, "a": MailStatus.sent}
    assert len(server.delivered) == 2


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_token_is_a_404_page(app, ctx, client, method):
    user = make_user()
    good = make_unsubscribe_token(user.id, "reminders")
    forged = URLSafeSerializer("another-secret", salt="academy.notifications.unsubscribe")
    for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), "nonsense",
                  forged.dumps([user.id, "reminders"])):
        page = assert_page(getattr(client, method)(f"/unsubscribe/{token}"), 404)
        assert "not valid" in page
    assert preferences(user) == (True, True)
