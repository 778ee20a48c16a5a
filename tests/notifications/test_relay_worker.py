"""A real Celery worker delivers mail committed by the web side, with no one calling the relay."""
from __future__ import annotations

from academy.accounts.emails import verify_email
from academy.extensions import db
from academy.notifications.models import MailStatus
from academy.notifications.service import queue_mail
from tests.helpers.factories import make_user
from tests.helpers.mail import outbox
from tests.helpers.services import wait_until


def test_committed_mail_reaches_the_smtp_server_through_a_worker(ctx, smtp, start_worker):
    server = smtp()
    start_worker(ACADEMY_MAIL_URL=server.url)
    user = make_user()
    message = queue_mail("verify_email", user.email, verify_email(user, "tok"),
                         key=f"verify:{user.id}:1", user_id=user.id)
    db.session.commit()  # the after-commit hook publishes relay_outbox to Redis

    wait_until(lambda: server.delivered, timeout=30)
    (_, rcpt_tos, _), = server.delivered
    assert rcpt_tos == [user.email]
    assert server.messages()[0]["Message-ID"] == message.message_id
    assert wait_until(lambda: outbox()[0].status is MailStatus.sent)
