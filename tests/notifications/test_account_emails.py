"""Account mail as the learner reads it: the right link, how long it lasts, no unsubscribe."""
from __future__ import annotations

from academy.accounts.emails import password_reset, verify_email
from academy.extensions import db
from academy.notifications.relay import relay_pending
from academy.notifications.service import queue_mail
from tests.helpers.factories import make_user


def send(name, context, user):
    queue_mail(name, user.email, context, key=f"{name}:{user.id}", user_id=user.id)
    db.session.commit()
    relay_pending()


def test_verification_mail_links_to_verify_email_and_says_48_hours(ctx, smtp):
    server = smtp()
    user = make_user(display_name="Asha", verified=False)
    send("verify_email", verify_email(user, "abc.DEF-123_x"), user)

    message, = server.messages()
    assert message["Subject"] == "Confirm your email address for HireKit Academy"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = "http://academy.test/verify-email?token=abc.DEF-123_x"
    assert "Hello," in text and "Asha" not in text and link in text and "expires in 48 hours" in text
    assert f'href="{link}"' in html and "48 hours" in html
    assert message["List-Unsubscribe"] is None and "nsubscribe" not in text + html


def test_password_reset_mail_links_to_reset_password_valid_one_hour(ctx, smtp):
    server = smtp()
    user = make_user(display_name="Asha")
    send("password_reset", password_reset(user, "r3set"), user)

    message, = server.messages()
    assert message["Subject"] == "Reset your HireKit Academy password"
    text = message.get_body(("plain",)).get_content()
    assert "http://academy.test/reset-password?token=r3set" in text
    assert "valid for one hour" in text and "If you didn't ask for this, ignore" in text
    assert 'href="http://academy.test/reset-password?token=r3set"' in \
        message.get_body(("html",)).get_content()
    assert message["List-Unsubscribe"] is None


def test_the_verification_mail_never_shows_the_name_a_stranger_typed(app, client):
    from tests.helpers.mail import outbox

    answer = client.post("/api/v1/auth/register", json={
        "email": "victim@example.org", "password": "a long enough secret",
        "display_name": "Win a prize at https://evil.example/claim"})
    assert answer.status_code == 201
    with app.app_context():
        mail = outbox(template="verify_email")[-1]
    for body in (mail.subject, mail.text_body, mail.html_body):
        assert "evil.example" not in body and "Win a prize" not in body


def test_a_reset_mail_to_an_unconfirmed_address_does_not_show_its_name(ctx, smtp):
    server = smtp()
    stranger = make_user(display_name="Click https://evil.example", verified=False)
    owner = make_user(display_name="Asha", verified=True)
    send("password_reset", password_reset(stranger, "t1"), stranger)
    send("password_reset", password_reset(owner, "t2"), owner)
    first, second = server.messages()
    assert "evil.example" not in first.get_body(("plain",)).get_content()
    assert "Hi Asha," in second.get_body(("plain",)).get_content()
