"""Awards through a real Celery worker on Redis and PostgreSQL: never lost, never doubled."""
from __future__ import annotations

from sqlalchemy import func, select

from academy.badges.models import BadgeAward
from academy.learning.models import Enrollment
from tests.helpers.badges import finish
from tests.helpers.broker import purge, queued
from tests.helpers.clients import signed_in
from tests.helpers.concurrency import at_once
from tests.helpers.services import wait_until


def awards(database) -> int:
    with database() as session:
        return session.scalar(select(func.count()).select_from(BadgeAward))


def test_worker_awards_after_the_last_lesson(app, catalog, start_worker, database):
    start_worker()
    learner = signed_in(app)
    finish(learner)
    badges = wait_until(lambda: learner.get("/api/v1/me/badges").get_json()["items"], timeout=20)
    assert [b["badge"]["slug"] for b in badges] == ["basics"]
    path = badges[0]["url"].removeprefix("http://academy.test")
    doc = app.test_client().get(path, headers={"Accept": "application/ld+json"}).get_json()
    assert doc["type"] == "Assertion" and doc["badge"].endswith("/badges/classes/basics")


def test_twenty_simultaneous_last_lessons_award_once(app, catalog, start_worker, database):
    start_worker()
    learner = signed_in(app, bearer=True)
    finish(learner, lessons=["intro", "numbers"])
    answers = at_once(20, lambda: learner.complete("basics", "plots"))
    assert {r.status_code for r in answers} == {200}
    wait_until(lambda: awards(database) >= 1, timeout=20)
    # Give any duplicate message time to be processed, bounded by the queue draining.
    wait_until(lambda: _queue_empty(app), timeout=20)
    assert awards(database) == 1


def test_the_same_award_task_published_twice_awards_once(app, catalog, start_worker, database):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    from academy.badges.tasks import award_for_enrollment

    with database() as session:
        enrollment_id = session.scalar(select(Enrollment.id))
    award_for_enrollment.delay(enrollment_id)
    award_for_enrollment.delay(enrollment_id)
    worker = start_worker()
    wait_until(lambda: worker.output().count("succeeded") >= 2, timeout=20)
    assert awards(database) == 1


def test_a_lost_message_is_awarded_by_reconcile(app, catalog, start_worker, database, reconcile):
    learner = signed_in(app)
    finish(learner)
    purge(app)  # the broker lost the award message
    worker = start_worker()
    worker.wait_for("ready.")
    assert awards(database) == 0
    assert "1 badge(s) awarded" in reconcile()
    assert awards(database) == 1


def _queue_empty(app) -> bool:
    return queued(app) == 0
