"""Enrollment requests and answers."""
from marshmallow import Schema, fields, validate

from ..catalog.schemas import TrackRefSchema
from ..schemas import page_of
from ..timeutil import isoformat


class EnrollRequestSchema(Schema):
    track = fields.String(required=True, validate=validate.Length(min=1, max=100))


class LessonStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["completed"]))


class ProgressSchema(Schema):
    completed = fields.Integer()
    total = fields.Integer()
    percent = fields.Integer()
    next_lesson = fields.String(allow_none=True)
    completed_lessons = fields.List(fields.String())
    new_lessons = fields.List(fields.String())


class UtcDateTime(fields.Field):
    """ISO 8601 in UTC with ``Z``."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


class EnrollmentSchema(Schema):
    track = fields.Nested(TrackRefSchema)
    status = fields.String(validate=validate.OneOf(["active", "completed", "dropped"]))
    enrolled_at = UtcDateTime(metadata={"type": "string", "format": "date-time"})
    completed_at = UtcDateTime(allow_none=True, metadata={"type": "string", "format": "date-time"})
    last_activity_at = UtcDateTime(metadata={"type": "string", "format": "date-time"})
    progress = fields.Nested(ProgressSchema)


class LessonStatsSchema(Schema):
    slug = fields.String()
    completed = fields.Integer()


class TrackStatsSchema(Schema):
    track = fields.String()
    enrolled = fields.Integer()
    active = fields.Integer()
    completed = fields.Integer()
    dropped = fields.Integer()
    completion_rate = fields.Float()
    median_days_to_complete = fields.Float(allow_none=True)
    lessons = fields.List(fields.Nested(LessonStatsSchema))


EnrollmentPageSchema = page_of(EnrollmentSchema)


def enrollment_dict(view) -> dict:
    """An enrollment answer, already in ``EnrollmentSchema``'s JSON form.

    The enrollment endpoints send it as it is (``views._send``): a marshmallow dump of the same
    values cost a fifth of a ``GET /enrollments``. The schema still documents the answer and
    ``tests/learning/test_answers.py`` holds its dump and this equal."""
    e, progress = view.enrollment, view.progress
    return {
        "track": {"slug": view.track.slug, "title": view.track.title},
        "status": e.status.value,
        "enrolled_at": isoformat(e.enrolled_at),
        "completed_at": isoformat(e.completed_at),
        "last_activity_at": isoformat(e.last_activity_at),
        "progress": {
            "completed": progress.completed,
            "total": progress.total,
            "percent": progress.percent,
            "next_lesson": progress.next_lesson,
            "completed_lessons": list(progress.completed_lessons),
            "new_lessons": list(progress.new_lessons),
        },
    }
