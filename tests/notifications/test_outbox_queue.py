"""Queuing mail: exactly one row per key, relayed only after the transaction commits."""
from __future__ import annotations

from academy.accounts.emails import password_reset, verify_email
from academy.extensions import db
from academy.notifications.models import MailStatus
from academy.notifications.relay import relay_pending
from academy.notifications.service import cancel_pending_for_user, queue_mail
from tests.helpers.broker import purge, queued
from tests.helpers.factories import make_user
from tests.helpers.mail import outbox


def queue_verify(user, key=None, **kwargs):
    return queue_mail("verify_email", user.email, verify_email(user, "tok-1"),
                      key=key or f"verify:{user.id}:1", user_id=user.id, **kwargs)


def test_queuing_twice_with_one_key_adds_one_row_and_sends_one_mail(ctx, smtp):
    server = smtp()
    user = make_user()
    first = queue_verify(user)
    second = queue_verify(user)
    db.session.commit()

    assert first is not None and second is None
    assert len(outbox()) == 1
    relay_pending()
    # Queued again after it was sent: still nothing new.
    assert queue_verify(user) is None
    db.session.commit()
    relay_pending()
    assert len(server.delivered) == 1


def test_rolled_back_transaction_leaves_no_row_and_publishes_no_relay(app, ctx):
    purge(app, "mail")
    user = make_user()
    queue_verify(user)
    db.session.rollback()

    assert outbox() == []
    assert queued(app, "mail") == 0


def test_one_relay_is_published_per_committed_transaction(app, ctx):
    purge(app, "mail")
    user = make_user()
    queue_verify(user, key="verify:a")
    queue_verify(user, key="verify:b")
    assert queued(app, "mail") == 0, "nothing may be published before the commit"
    db.session.commit()
    assert queued(app, "mail") == 1

    # A later transaction that queues nothing publishes nothing.
    user.display_name = "Renamed"
    db.session.commit()
    assert queued(app, "mail") == 1
    purge(app, "mail")


def test_mail_queued_in_a_rolled_back_transaction_is_not_relayed_by_the_next_commit(app, ctx):
    purge(app, "mail")
    user = make_user()
    queue_verify(user)
    db.session.rollback()
    user = make_user()
    db.session.commit()
    assert queued(app, "mail") == 0


def test_cancelled_mail_is_never_sent(ctx, smtp):
    server = smtp()
    user, other = make_user(), make_user()
    queue_verify(user)
    queue_verify(other)
    db.session.commit()

    assert cancel_pending_for_user(user.id) == 1
    db.session.commit()
    relay_pending()
    assert [to for _, to, _ in server.delivered] == [[other.email]]
    assert outbox(user_id=user.id)[0].status is MailStatus.cancelled


def test_html_body_escapes_what_the_learner_typed_and_text_keeps_it(ctx, smtp):
    server = smtp()
    user = make_user(display_name="<b>Ann & Bob</b>")
    queue_mail("password_reset", user.email, password_reset(user, "t"), key="reset:1",
               user_id=user.id)
    db.session.commit()
    relay_pending()

    message = server.messages()[0]
    assert "Hi <b>Ann & Bob</b>," in message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Ann &amp; Bob&lt;/b&gt;" in html
    assert "<b>Ann" not in html


def test_reminder_and_badge_mail_carry_one_click_unsubscribe_and_account_mail_does_not(
        ctx, smtp, client):
    server = smtp()
    user = make_user()
    queue_verify(user, key="account")
    queue_verify(user, key="reminder", category="reminder")
    queue_verify(user, key="badge", category="badge")
    db.session.commit()
    relay_pending()

    by_key = {outbox(message_id=m["Message-ID"])[0].key: m for m in server.messages()}
    account, reminder, badge = by_key["account"], by_key["reminder"], by_key["badge"]
    assert account["List-Unsubscribe"] is None
    assert account["List-Unsubscribe-Post"] is None
    assert "nsubscribe" not in account.get_body(("plain",)).get_content()
    for message in (reminder, badge):
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = message["List-Unsubscribe"]
        assert link.startswith("<http://academy.test/unsubscribe/") and link.endswith(">")
        assert link[1:-1] in message.get_body(("plain",)).get_content()

    # The header's link works as a mail client uses it: a bare POST, no cookie, no token.
    path = reminder["List-Unsubscribe"][1:-1].removeprefix("http://academy.test")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db.session.refresh(user)
    assert user.reminders_enabled is False and user.badge_emails_enabled is True


def test_a_released_savepoint_publishes_nothing_before_the_outer_commit(app, ctx):
    purge(app, "mail")
    user = make_user()
    with db.session.begin_nested():
        queue_verify(user)
    assert queued(app, "mail") == 0
    db.session.commit()
    assert queued(app, "mail") == 1
    purge(app, "mail")


def test_queuing_many_at_once_adds_only_new_keys_each_with_its_own_unsubscribe_link(ctx, smtp):
    from sqlalchemy import func, select

    from academy.notifications.models import UnsubscribeToken
    from academy.notifications.service import Mail, queue_mails, read_unsubscribe_token

    server = smtp()
    users = [make_user(display_name=f"Zoë \"{n}\" <b>") for n in range(3)]
    context = {"display_name": "x", "items": [], "longest_idle": 3}

    def mails(who):
        return [Mail("reminder", u.email, {**context, "display_name": u.display_name},
                     key=f"reminder:{u.id}:2026-06-04", user_id=u.id, category="reminder")
                for u in who]

    assert queue_mails(mails(users[:1])) == {f"reminder:{users[0].id}:2026-06-04"}
    db.session.commit()
    # The first learner's mail exists: of three, two are added, and only they get a token.
    added = queue_mails(mails(users))
    db.session.commit()
    assert added == {f"reminder:{u.id}:2026-06-04" for u in users[1:]}
    assert db.session.scalar(select(func.count()).select_from(UnsubscribeToken)) == 3
    relay_pending()
    assert sorted(rcpt for _, rcpts, _ in server.delivered for rcpt in rcpts) == sorted(
        u.email for u in users)
    by_address = {message["To"]: message for message in server.messages()}
    for user in users:
        message = by_address[user.email]
        assert user.display_name in message.get_body(("plain",)).get_content()
        link = message["List-Unsubscribe"].strip("<>")
        assert read_unsubscribe_token(link.rsplit("/", 1)[1]) == (user.id, "reminders")
