"""Catalog answers: careers, tracks and lessons."""
from marshmallow import Schema, fields

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
    estimated_minutes = fields.Integer()
    prerequisites = fields.List(fields.String())
    badge = fields.Nested(BadgeRefSchema, allow_none=True)


class LessonRefSchema(Schema):
    slug = fields.String()
    title = fields.String()
    minutes = fields.Integer()
    position = fields.Integer()


class TrackDetailSchema(TrackSchema):
    lessons = fields.List(fields.Nested(LessonRefSchema))


class ResourceSchema(Schema):
    title = fields.String()
    url = fields.String()


class TrackRefSchema(Schema):
    slug = fields.String()
    title = fields.String()


class LessonDetailSchema(LessonRefSchema):
    track = fields.Nested(TrackRefSchema)
    body_html = fields.String(metadata={"description": "Lesson body, rendered and sanitised."})
    resources = fields.List(fields.Nested(ResourceSchema))
    content_hash = fields.String()


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
