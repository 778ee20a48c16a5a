"""Redis crashes mid-batch and comes back empty: what was committed meanwhile is still done,
by the outbox relay and the badge reconciler that beat runs, and nothing is done twice."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from academy.badges.models import BadgeAward
from academy.extensions import db
from academy.notifications.service import queue_mail
from tests.helpers.badges import finish
from tests.helpers.clients import signed_in
from tests.helpers.faults import outbox_status, settle, succeeded
from tests.helpers.services import wait_until

pytestmark = pytest.mark.faults(timeout=120)

BEFORE, DURING = 300, 20
OUTAGE = 3.0  # seconds Redis stays down


def queue_account_mail(web, first: int, n: int) -> None:
    """``n`` account mails committed together; the commit publishes one relay."""
    with web.app_context():
        for i in range(first, first + n):
            queue_mail("verify_email", f"outage{i}@example.org",
                       {"display_name": f"Learner {i}", "verify_url": "http://academy.test/v",
                        "expires_hours": 48}, key=f"faults:redis:{i}")
        db.session.commit()
        db.session.remove()


def exit_line(worker) -> str:
    """The worker's last CRITICAL line (kombu's "Unrecoverable error"), for the failure."""
    lines = [line for line in worker.output().splitlines() if "CRITICAL" in line]
    return (lines or ["exited without a CRITICAL line"])[-1][:300]


def test_redis_restarted_mid_batch_loses_no_mail_and_no_badge(
        app, app_factory, catalog, database, procs, smtp_sink, record):
    redis = procs.redis()
    server = smtp_sink.start(delay=0.01)
    web = app_factory(REDIS_URL=redis.url)
    # No supervisor: the worker must ride out its broker restarting on its own.
    worker = procs.worker(ACADEMY_REDIS_URL=redis.url, ACADEMY_MAIL_URL=server.url)
    beat, = procs.beats(1, period=1.0, ACADEMY_REDIS_URL=redis.url)
    learner = signed_in(web, bearer=True)

    queue_account_mail(web, 0, BEFORE)
    wait_until(lambda: len(server.delivered) >= 50, timeout=30, interval=0.01)
    redis.crash()  # SIGKILL, no persistence: every queued and unacknowledged message is gone
    crashed = time.monotonic()
    delivered_at_crash = len(server.delivered)

    # The web side keeps committing while the broker is gone: a track's last lesson (its award
    # message cannot be published) and more mail (its relay message neither).
    assert web.test_client().get("/readyz").status_code == 503
    asked = time.monotonic()
    finish(learner)
    request_seconds = (time.monotonic() - asked) / 4  # enroll and three lessons
    queue_account_mail(web, BEFORE, DURING)
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - crashed)))  # the outage itself

    delivered_while_down = len(server.delivered) - delivered_at_crash
    redis.start()  # same port, empty
    back = time.monotonic()
    expected_mail = BEFORE + DURING + 1  # and the "badge earned" mail

    def done() -> bool:
        assert worker.alive(), f"the worker exited: {exit_line(worker)}"
        return (awards(database) >= 1 and outbox_status(database)["sent"] >= expected_mail
                and set(outbox_status(database)) == {"sent"}
                and len(server.delivered) >= expected_mail)

    settle(done, lambda: dict(awards=awards(database), outbox=outbox_status(database),
                              delivered=len(server.delivered), worker_alive=worker.alive(),
                              beat_alive=beat.alive()), timeout=60)
    recovered = time.monotonic() - back
    per_recipient = server.per_recipient()
    record(mails=expected_mail, delivered_when_redis_died=delivered_at_crash,
           delivered_while_down=delivered_while_down,
           outage_seconds=round(back - crashed, 1), recovery_seconds=round(recovered, 1),
           request_seconds_while_down=round(request_seconds, 2), badges=awards(database),
           duplicates=sum(per_recipient.values()) - len(per_recipient),
           worker_exits=0 if worker.alive() else 1)
    assert web.test_client().get("/readyz").status_code == 200
    assert len(per_recipient) == BEFORE + DURING + 1 and set(per_recipient.values()) == {1}
    assert awards(database) == 1 and outbox_status(database) == {"sent": expected_mail}
    # Beat and the one worker rode the outage out; the worker reconnected by itself.
    assert beat.alive() and worker.alive(), exit_line(worker)
    assert worker.output().count("Connected to redis") >= 2
    # The award message was never published: the reconciler beat runs made the badge.
    assert succeeded([worker], "academy.badges.award_for_enrollment") == 0
    assert succeeded([worker], "academy.badges.reconcile") >= 1


def awards(database) -> int:
    with database() as session:
        return session.scalar(select(func.count()).select_from(BadgeAward))
