"""Badge answers and the revocation request."""
from marshmallow import Schema, fields, validate

from ..fields import Text
from ..schemas import Timestamp, page_of


class BadgeClassRefSchema(Schema):
    slug = fields.String()
    name = fields.String()
    description = fields.String()


class AwardSchema(Schema):
    id = fields.String(metadata={"description": "The public id in /badges/<id>."})
    badge = fields.Nested(BadgeClassRefSchema)
    issued_at = Timestamp()
    url = fields.String()
    revoked = fields.Boolean()
    revocation_reason = fields.String(allow_none=True)


class RevokeSchema(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=500))


AwardPageSchema = page_of(AwardSchema)
