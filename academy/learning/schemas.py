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
    e = view.enrollment
    return {
        "track": {"slug": view.track.slug, "title": view.track.title},
        "status": e.status.value,
        "enrolled_at": e.enrolled_at,
        "completed_at": e.completed_at,
        "last_activity_at": e.last_activity_at,
        "progress": view.progress.__dict__,
    }
