"""Every award and relay message delivered twice, to two workers at once: one badge per
(learner, badge class), one mail per badge."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from academy.badges.models import BadgeAward
from academy.extensions import db
from academy.learning import service as learning
from academy.learning.models import Enrollment
from tests.helpers.badges import ADVANCED, BASICS
from tests.helpers.broker import purge, queued
from tests.helpers.factories import make_user
from tests.helpers.faults import outbox_status, send_task, settle, succeeded

pytestmark = pytest.mark.faults(timeout=90)

LEARNERS = 20
AWARD = "academy.badges.award_for_enrollment"
RELAY = "academy.notifications.relay_outbox"


def finish_both_tracks(app, n: int) -> list[int]:
    """``n`` learners who complete basics and advanced (so a career badge is due too)."""
    with app.app_context():
        users = [make_user().id for _ in range(n)]
        for user_id in users:
            for track, lessons in (("basics", BASICS), ("advanced", ADVANCED)):
                learning.enroll(user_id, track)
                for lesson in lessons:
                    learning.complete_lesson(user_id, track, lesson)
            db.session.commit()
        enrollments = list(db.session.scalars(select(Enrollment.id).order_by(Enrollment.id)))
        db.session.remove()
    return enrollments


def test_every_award_and_relay_published_twice_to_two_workers(
        app, catalog, database, procs, smtp_sink, record):
    server = smtp_sink.start()
    enrollments = finish_both_tracks(app, LEARNERS)
    purge(app)  # the after-commit publishes: this test sends its own, twice each
    workers = procs.workers(2, ACADEMY_MAIL_URL=server.url)

    started = time.monotonic()
    for enrollment_id in enrollments:
        # Side by side, so the two copies are taken by two pool processes at the same time.
        send_task(app, AWARD, args=[enrollment_id])
        send_task(app, AWARD, args=[enrollment_id])
    send_task(app, RELAY)
    send_task(app, RELAY)

    expected_awards = LEARNERS * 3  # basics, advanced and the data-career badge
    settle(lambda: succeeded(workers, AWARD) >= 2 * len(enrollments),
           lambda: f"{succeeded(workers, AWARD)} award runs", timeout=60)
    # Settled: nothing queued, no mail waiting, and the server has had every mail.
    settle(lambda: queued(app, "celery") == 0 and queued(app, "mail") == 0
           and set(outbox_status(database)) == {"sent"}
           and len(server.delivered) >= sum(outbox_status(database).values()),
           lambda: dict(queued=(queued(app, "celery"), queued(app, "mail")),
                        outbox=outbox_status(database), delivered=len(server.delivered)),
           timeout=60)
    settled = time.monotonic() - started

    with database() as session:
        per_pair = Counter(session.execute(select(BadgeAward.user_id, BadgeAward.badge_class_id)))
    mails = Counter((rcpt, message["Subject"]) for (_, (rcpt,), _), message
                    in zip(server.delivered, server.messages(), strict=True))
    logs = "".join(w.output() for w in workers)
    record(award_tasks=succeeded(workers, AWARD), relay_tasks=succeeded(workers, RELAY),
           badges=awards(database), expected_badges=expected_awards,
           mails_received=len(server.delivered),
           duplicates=len(server.delivered) - len(mails), seconds=round(settled, 1))
    assert len(per_pair) == expected_awards and set(per_pair.values()) == {1}
    assert awards(database) == expected_awards
    assert len(server.delivered) == expected_awards and set(mails.values()) == {1}
    assert len(server.message_ids()) == expected_awards
    assert all(succeeded([w], AWARD) > 0 for w in workers)  # both workers took a share
    # A lost race must end in ON CONFLICT DO NOTHING, not in an error and a Celery retry.
    assert "ERROR/" not in logs and "] retry: " not in logs


def awards(database) -> int:
    with database() as session:
        return session.scalar(select(func.count()).select_from(BadgeAward))
