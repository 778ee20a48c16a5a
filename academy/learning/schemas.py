"""Enrollment requests and answers."""
from marshmallow import Schema, fields, validate

from ..catalog.schemas import TrackRefSchema
from ..fields import Text
from ..schemas import Timestamp, page_of
from ..timeutil import isoformat


class EnrollRequestSchema(Schema):
    track = Text(required=True, validate=validate.Length(min=1, max=100))


class LessonStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["completed"]))


class ProgressSchema(Schema):
    completed = fields.Integer()
    total = fields.Integer()
    percent = fields.Integer()
    next_lesson = fields.String(allow_none=True)
    completed_lessons = fields.List(fields.String())
    new_lessons = fields.List(fields.String())


class EnrollmentSchema(Schema):
    track = fields.Nested(TrackRefSchema)
    status = fields.String(validate=validate.OneOf(["active", "completed", "dropped"]))
    enrolled_at = Timestamp()
    completed_at = Timestamp(allow_none=True)
    last_activity_at = Timestamp()
    progress = fields.Nested(ProgressSchema)


class EnrollmentWarningSchema(Schema):
    code = fields.String(validate=validate.OneOf(["prerequisites_unfinished"]), metadata={
        "description": "prerequisites_unfinished: the track builds on tracks the learner has "
                       "not completed; the enrollment is made all the same."})
    detail = fields.String(metadata={"description": "The warning in words, for the learner."})
    tracks = fields.List(fields.Nested(TrackRefSchema),
                         metadata={"description": "The tracks it is about, in the track's order."})


class EnrollmentDetailSchema(EnrollmentSchema):
    """One enrollment as enrolling and reading it answer: the enrollment plus its warnings."""

    warnings = fields.List(fields.Nested(EnrollmentWarningSchema),
                           metadata={"description": "Empty when there is nothing to warn about."})


class AttemptRequestSchema(Schema):
    answers = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=100)),
        values=fields.List(Text(validate=validate.Length(min=1, max=1)), validate=validate.Length(max=8)),
        required=True, validate=validate.Length(max=50),
        metadata={"description": "{question id: [choice id, …]} for every question of the check."})


class QuestionResultSchema(Schema):
    question = fields.String()
    correct = fields.Boolean()
    chosen = fields.List(fields.String())
    explanations = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "Why each choice is right or wrong, by choice id."})


class AttemptSchema(Schema):
    passed = fields.Boolean(metadata={"description": "Every question right: the lesson is "
                                                     "completed."})
    score = fields.Integer()
    total = fields.Integer()
    results = fields.List(fields.Nested(QuestionResultSchema))
    enrollment = fields.Nested(EnrollmentSchema)


class EvidenceSubmitSchema(Schema):
    url = Text(required=True, validate=validate.Length(min=1, max=2000))
    note = Text(multiline=True, load_default="", validate=validate.Length(max=2000))


class QuestionStatsSchema(Schema):
    lesson = fields.String()
    id = fields.String()
    attempts = fields.Integer()
    first_try_correct_rate = fields.Float(allow_none=True)


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
    questions = fields.List(fields.Nested(QuestionStatsSchema))


EnrollmentPageSchema = page_of(EnrollmentSchema)


def enrollment_dict(view) -> dict:
    """An enrollment answer, already in ``EnrollmentSchema``'s JSON form (``EnrollmentDetailSchema``
    when the view carries its warnings).

    The enrollment endpoints send it as it is (``views._send``): a marshmallow dump of the same
    values cost a fifth of a ``GET /enrollments``. The schema still documents the answer and
    ``tests/learning/test_answers.py`` holds its dump and this equal."""
    e, progress = view.enrollment, view.progress
    answer = {
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
    if view.warnings is not None:
        answer["warnings"] = [warning_dict(warning) for warning in view.warnings]
    return answer


def warning_dict(warning) -> dict:
    """An ``EnrollmentWarning`` in ``EnrollmentWarningSchema``'s JSON form."""
    return {"code": warning.code, "detail": warning.detail,
            "tracks": [{"slug": track.slug, "title": track.title} for track in warning.tracks]}
