"""Admin statistics, checked against a seeded set of learners."""
from __future__ import annotations

from datetime import timedelta

import time_machine

from tests.helpers.clients import signed_in
from tests.helpers.factories import at


def test_stats_match_the_seeded_learners(app, catalog):
    start = at("2026-01-01T09:00:00Z")
    plan = {  # learner: (days until each of the three lessons, or None), then dropped?
        "fast": ([1, 1, 2], False),
        "slow": ([1, 5, 10], False),
        "mid": ([2, 3, 4], False),
        "partial": ([1, None, None], False),
        "quitter": ([1, None, None], True),
        "idle": ([None, None, None], False),
    }
    for name, (days, dropped) in plan.items():
        learner = signed_in(app, bearer=True)
        with time_machine.travel(start, tick=False):
            learner.enroll("basics")
        for lesson, day in zip(["intro", "numbers", "plots"], days):
            if day is not None:
                with time_machine.travel(start + timedelta(days=day), tick=False):
                    assert learner.complete("basics", lesson).status_code == 200
        if dropped:
            learner.delete("/api/v1/enrollments/basics")
    admin = signed_in(app, is_admin=True)
    body = admin.get("/api/v1/admin/tracks/basics/stats").get_json()
    assert body["enrolled"] == 6
    assert (body["active"], body["completed"], body["dropped"]) == (2, 3, 1)
    assert body["completion_rate"] == 0.5
    assert body["median_days_to_complete"] == 4.0  # 2, 4 and 10 days
    assert body["lessons"] == [{"slug": "intro", "completed": 5},
                               {"slug": "numbers", "completed": 3},
                               {"slug": "plots", "completed": 3}]


def test_stats_are_for_admins_only(app, catalog):
    assert app.test_client().get("/api/v1/admin/tracks/basics/stats").status_code == 401
    assert signed_in(app).get("/api/v1/admin/tracks/basics/stats").status_code == 403
    assert signed_in(app, is_admin=True).get("/api/v1/admin/tracks/nope/stats").status_code == 404


def _completed_enrollments(app, days: list[float]):
    """One completed basics enrollment per duration, written directly (as a big track's would be)."""
    from sqlalchemy import insert, select

    from academy.catalog.models import Track
    from academy.extensions import db
    from academy.learning.models import Enrollment, EnrollmentStatus
    from tests.helpers.factories import make_user

    start = at("2026-01-01T00:00:00Z").replace(tzinfo=None)
    with app.app_context():
        track_id = db.session.scalar(select(Track.id).where(Track.slug == "basics"))
        users = [make_user().id for _ in days]
        db.session.execute(insert(Enrollment), [
            {"user_id": user, "track_id": track_id, "status": EnrollmentStatus.completed,
             "enrolled_at": start, "completed_at": start + timedelta(days=d),
             "last_activity_at": start + timedelta(days=d)} for user, d in zip(users, days)])
        db.session.commit()


def test_the_median_is_computed_in_the_database_whatever_the_count(app, catalog):
    from tests.helpers.sql import statements

    admin = signed_in(app, is_admin=True)
    _completed_enrollments(app, [1, 3, 2, 8])  # even count: the mean of the middle two
    assert admin.get("/api/v1/admin/tracks/basics/stats").get_json()[
        "median_days_to_complete"] == 2.5
    with statements(app) as few:
        admin.get("/api/v1/admin/tracks/basics/stats")
    _completed_enrollments(app, [0.5] * 41)
    with statements(app) as many:
        body = admin.get("/api/v1/admin/tracks/basics/stats").get_json()
    assert body["median_days_to_complete"] == 0.5
    # No statement reads every completed enrollment: the count does not change with them.
    assert len(many) == len(few)
    assert not any("completed_at" in sql and "enrolled_at" in sql and "percentile" not in sql
                   and "julianday" not in sql for _, sql in many)
