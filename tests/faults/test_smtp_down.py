"""No SMTP server for a while: mail waits in the outbox with growing, jittered delays (time is
moved by rewriting ``next_attempt_at``, not slept), then every message arrives exactly once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from academy.extensions import db
from academy.notifications import relay
from academy.notifications.models import MailStatus, OutboxMessage
from academy.notifications.service import queue_mail
from academy.timeutil import utcnow
from tests.helpers.faults import outbox_status, send_task, settle, succeeded
from tests.helpers.mail import free_port
from tests.helpers.services import wait_until

pytestmark = pytest.mark.faults(timeout=90)

MAILS = 150  # more than one relay batch (100)
ROUNDS = 4  # relay runs against the dead port
RELAY = "academy.notifications.relay_outbox"


def rows(database) -> list[OutboxMessage]:
    with database() as session:
        found = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
    return found


def time_passes(database) -> None:
    """Every backoff runs out now: what waiting (minutes, then hours) would do."""
    with database() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.status == MailStatus.pending)
                        .values(next_attempt_at=utcnow()))
        session.commit()


def ceiling(attempts: int) -> float:
    return min(relay.BACKOFF_CAP, relay.BACKOFF_BASE * 2 ** (attempts - 1))


def test_mail_queued_while_smtp_is_down_is_delivered_once_when_it_returns(
        app, database, procs, smtp_sink, record):
    port = free_port()  # nothing listens here yet
    worker = procs.worker(ACADEMY_MAIL_URL=f"smtp://127.0.0.1:{port}?timeout=5")
    started = utcnow()
    with app.app_context():
        for i in range(MAILS):
            queue_mail("verify_email", f"waiting{i}@example.org",
                       {"display_name": f"Waiting {i}", "verify_url": "http://academy.test/v",
                        "expires_hours": 48}, key=f"faults:smtp:{i}")
        db.session.commit()  # publishes the first relay
        db.session.remove()

    delays: dict[int, list[tuple[float, float]]] = {}
    before: dict[int, int] = {}  # attempts per row before the round (the commit published one)
    for round_ in range(1, ROUNDS + 1):
        if round_ > 1:
            started = utcnow()
            time_passes(database)
            before = {row.id: row.attempts for row in rows(database)}
            send_task(app, RELAY)  # what beat does every minute
        # Each round is two relay runs: one with rows due, then one right after it.
        wait_until(lambda: succeeded([worker], RELAY) == 2 * round_ - 1, timeout=30)
        ended = utcnow()
        for row in rows(database):
            assert row.status is MailStatus.pending and row.claimed_until is None
            if row.attempts > before.get(row.id, 0):  # tried in this round
                assert row.attempts == before.get(row.id, 0) + 1
                assert "connect to" in row.last_error, row.last_error
                # Full jitter: somewhere in [1 s, min(cap, base * 2^(n-1))] after the attempt.
                assert started + timedelta(seconds=1) <= row.next_attempt_at \
                    <= ended + timedelta(seconds=ceiling(row.attempts)), row.attempts
                # Conservative: the attempt happened between ``started`` and ``ended``.
                delays.setdefault(row.attempts, []).append(
                    ((row.next_attempt_at - started).total_seconds(),
                     (row.next_attempt_at - ended).total_seconds()))
        # Nothing is retried before its time: a relay run now leaves the waiting rows alone
        # (it does try the rows the first run never reached: it stops at a dead server).
        now = utcnow()
        waiting = {row.id: row.attempts for row in rows(database) if row.next_attempt_at > now}
        send_task(app, RELAY)
        wait_until(lambda: succeeded([worker], RELAY) == 2 * round_, timeout=30)
        assert {row.id: row.attempts for row in rows(database) if row.id in waiting} == waiting

    tried = {row.attempts for row in rows(database)}
    assert outbox_status(database) == {"pending": MAILS} and max(tried) >= 2

    server = smtp_sink.start(port=port)  # the server comes back
    time_passes(database)
    send_task(app, RELAY)
    settle(lambda: outbox_status(database) == {"sent": MAILS},
           lambda: (outbox_status(database), len(server.delivered)), timeout=30)
    per_recipient = server.per_recipient()
    record(mails=MAILS, relay_runs_while_down=2 * ROUNDS, delivered=len(server.delivered),
           duplicates=len(server.delivered) - len(per_recipient), lost=MAILS - len(per_recipient),
           max_attempts=max(row.attempts for row in rows(database)),
           # attempt n: [shortest, longest] delay seen after it, and its ceiling
           backoff_seconds={n: [round(min(lo for lo, _ in d), 1), round(max(hi for _, hi in d), 1),
                                round(ceiling(n))] for n, d in sorted(delays.items())})
    assert len(per_recipient) == MAILS and set(per_recipient.values()) == {1}
    assert len(server.message_ids()) == MAILS
