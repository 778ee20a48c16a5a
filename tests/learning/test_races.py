"""Simultaneous requests end with one row and no error (unique keys and upserts decide)."""
from __future__ import annotations

from sqlalchemy import func, select

from academy.learning.models import Enrollment, LessonCompletion
from tests.helpers.clients import signed_in
from tests.helpers.concurrency import at_once
from tests.helpers.services import needs_postgres


@needs_postgres
def test_simultaneous_enrollments_make_one_row(app, catalog, database):
    learner = signed_in(app, bearer=True)
    statuses = sorted(r.status_code for r in at_once(8, lambda: learner.enroll("basics")))
    assert statuses.count(201) == 1 and statuses.count(200) == 7, statuses
    with database() as session:
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 1


@needs_postgres
def test_simultaneous_puts_of_one_lesson_make_one_row(app, catalog, database):
    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    answers = at_once(8, lambda: learner.complete("basics", "intro"))
    assert [r.status_code for r in answers] == [200] * 8
    assert {r.get_json()["progress"]["completed"] for r in answers} == {1}
    with database() as session:
        assert session.scalar(select(func.count()).select_from(LessonCompletion)) == 1


@needs_postgres
def test_finishing_the_last_two_lessons_at_once_completes_the_track(app, catalog, database):
    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    learner.complete("basics", "intro")
    at_once(2, lambda lessons=iter(["numbers", "plots"]): learner.complete("basics", next(lessons)))
    body = learner.get("/api/v1/enrollments/basics").get_json()
    assert body["status"] == "completed" and body["progress"]["percent"] == 100
