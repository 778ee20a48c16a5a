"""Catalog answers: careers, tracks and lessons."""
from marshmallow import Schema, fields, validate

from ..fields import Text
from ..schemas import PageArgs, page_of
from .career_content import CareerFileSchema


class TrackQueryArgs(PageArgs):
    career = Text()


class BadgeRefSchema(Schema):
    slug = fields.String()
    name = fields.String()


class TrackSchema(Schema):
    slug = fields.String()
    title = fields.String()
    summary = fields.String()
    career = fields.String()
    position = fields.Integer()
    lesson_count = fields.Integer()
    estimated_minutes = fields.Integer(metadata={"description": "Reading and exercises."})
    estimated_project_hours = fields.Float(metadata={
        "description": "Project work beyond the reading, in hours (0 when none)."})
    prerequisites = fields.List(fields.String())
    badge = fields.Nested(BadgeRefSchema, allow_none=True)


class LessonRefSchema(Schema):
    slug = fields.String()
    title = fields.String()
    minutes = fields.Integer()
    project_hours = fields.Float(allow_none=True, metadata={
        "description": "Hours a project takes beyond the reading; null when none."})
    position = fields.Integer()


class TrackDetailSchema(TrackSchema):
    lessons = fields.List(fields.Nested(LessonRefSchema))


class ResourceSchema(Schema):
    title = fields.String()
    url = fields.String()


class TrackRefSchema(Schema):
    slug = fields.String()
    title = fields.String()


class CheckChoiceSchema(Schema):
    id = fields.String(metadata={"description": "a, b, c … in the order shown."})
    text = fields.String()


class CheckQuestionSchema(Schema):
    id = fields.String()
    prompt = fields.String()
    multiple = fields.Boolean(metadata={"description": "Select all that apply: more than one "
                                                       "choice is right."})
    choices = fields.List(fields.Nested(CheckChoiceSchema))


class EvidenceRequestSchema(Schema):
    prompt = fields.String()
    url_pattern = fields.String(metadata={"description": "A regular expression the whole link "
                                                         "must match."})


class LessonDetailSchema(LessonRefSchema):
    track = fields.Nested(TrackRefSchema)
    body_html = fields.String(metadata={"description": "Lesson body, rendered and sanitised."})
    resources = fields.List(fields.Nested(ResourceSchema))
    content_hash = fields.String()
    completion = fields.String(validate=validate.OneOf(["self", "check", "evidence"]), metadata={
        "description": "self: PUT the lesson completed; check: pass its questions (POST …/attempts);"
                       " evidence: submit a link (POST …/evidence)."})
    check = fields.List(fields.Nested(CheckQuestionSchema), allow_none=True,
                        metadata={"description": "Never says which choices are right."})
    evidence = fields.Nested(EvidenceRequestSchema, allow_none=True)


TrackPageSchema = page_of(TrackSchema)


class CareerSchema(Schema):
    slug = fields.String()
    title = fields.String()
    summary = fields.String()
    track_count = fields.Integer(metadata={"description": "Current tracks that join the career."})


class CareerDetailSchema(CareerFileSchema):
    """A career file's fields as they were checked, plus the career's slug and tracks."""

    slug = fields.String()
    tracks = fields.List(fields.Nested(TrackSchema), metadata={"description": "In career order."})


CareerPageSchema = page_of(CareerSchema)
