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
