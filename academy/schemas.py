"""Schemas shared by every domain: problem documents, pagination, timestamps."""
from datetime import datetime

from marshmallow import Schema, fields, validate

from .timeutil import isoformat


class Timestamp(fields.Field):
    """A time in an answer: ISO 8601 in UTC with ``Z``, documented as ``format: date-time``.

    Answers built as dicts already hold the string (``timeutil.isoformat``); a ``datetime``
    is formatted the same way."""

    def __init__(self, **kwargs):
        metadata = {"type": "string", "format": "date-time", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value) if isinstance(value, datetime) else value


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def page_of(item_schema) -> type[Schema]:
    """A ``{"items": [...], "total": n}`` schema around ``item_schema``."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)), "total": fields.Integer()}, name=name
    )
