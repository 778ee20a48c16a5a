"""Enrollment answers are sent as ``enrollment_dict`` builds them, without a marshmallow dump
(it cost a fifth of a request): they must stay what ``EnrollmentSchema``, which documents them
in the OpenAPI document, would have made of the same values."""
from __future__ import annotations

from datetime import datetime

import pytest

from academy.learning.models import EnrollmentStatus
from academy.learning.schemas import EnrollmentDetailSchema, EnrollmentSchema, enrollment_dict
from academy.learning.service import EnrollmentView, EnrollmentWarning, Progress, TrackName


class Row:
    def __init__(self, **columns):
        self.__dict__.update(columns)


def view(status, completed_at=None, progress=None) -> EnrollmentView:
    enrollment = Row(status=status, enrolled_at=datetime(2026, 3, 1, 9, 30, 5, 123456),
                     completed_at=completed_at, last_activity_at=datetime(2026, 3, 4, 23, 59, 59))
    return EnrollmentView(enrollment, TrackName(7, "ml-fundamentals", "Build the fundamentals"),
                          progress or Progress())


@pytest.mark.parametrize("case", [
    view(EnrollmentStatus.active),
    view(EnrollmentStatus.active, progress=Progress(2, 7, 28, "three", ["one", "two"], [])),
    view(EnrollmentStatus.completed, datetime(2026, 3, 9, 12, 0),
         Progress(7, 8, 87, "new-one", [f"l{i}" for i in range(7)], ["new-one"])),
    view(EnrollmentStatus.dropped, progress=Progress(1, 3, 33, "two", ["one"], [])),
], ids=["new", "partial", "completed-with-new-lessons", "dropped"])
def test_the_answer_is_the_schemas_dump_of_the_same_values(case):
    e = case.enrollment
    raw = {"track": {"slug": case.track.slug, "title": case.track.title}, "status": e.status.value,
           "enrolled_at": e.enrolled_at, "completed_at": e.completed_at,
           "last_activity_at": e.last_activity_at, "progress": case.progress.__dict__}
    assert enrollment_dict(case) == EnrollmentSchema().dump(raw)


def test_warnings_are_the_detail_schemas_dump_of_the_same_values():
    case = view(EnrollmentStatus.active, progress=Progress(0, 3, 0, "one", [], []))
    case.warnings = [EnrollmentWarning("prerequisites_unfinished", "Finish Basics first.",
                                       (TrackName(3, "basics", "Basics"),))]
    e = case.enrollment
    raw = {"track": {"slug": case.track.slug, "title": case.track.title}, "status": e.status.value,
           "enrolled_at": e.enrolled_at, "completed_at": e.completed_at,
           "last_activity_at": e.last_activity_at, "progress": case.progress.__dict__,
           "warnings": [{"code": "prerequisites_unfinished", "detail": "Finish Basics first.",
                         "tracks": [{"slug": "basics", "title": "Basics"}]}]}
    assert enrollment_dict(case) == EnrollmentDetailSchema().dump(raw)


def test_every_enrollment_endpoint_answers_in_the_documented_shape(app, learner):
    fields = set(EnrollmentSchema().fields)
    detail_fields = set(EnrollmentDetailSchema().fields)
    progress = set(EnrollmentSchema().fields["progress"].schema.fields)
    answers = [learner.enroll("basics"),
               learner.put("/api/v1/enrollments/basics/lessons/intro", json={"status": "completed"}),
               learner.get("/api/v1/enrollments/basics"),
               learner.delete("/api/v1/enrollments/basics/lessons/intro")]
    listed = learner.get("/api/v1/enrollments")
    assert [a.status_code for a in answers] == [201, 200, 200, 200] and listed.status_code == 200
    # Enrolling and reading one enrollment add its warnings; the others answer the enrollment.
    detailed = {0, 2}
    for index, body in enumerate([a.get_json() for a in answers] + listed.get_json()["items"]):
        assert set(body) == (detail_fields if index in detailed else fields)
        assert set(body["progress"]) == progress
        assert body["enrolled_at"].endswith("Z") and body["track"]["slug"] == "basics"
    assert answers[1].get_json()["progress"]["completed_lessons"] == ["intro"]
    assert answers[3].get_json()["progress"]["completed_lessons"] == []
