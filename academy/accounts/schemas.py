"""Account requests and answers."""
from marshmallow import Schema, ValidationError, fields, validate

from ..fields import Email, StrictBoolean, TimeZone, TrimmedString
from ..schemas import PageArgs, page_of
from .passwords import password_problem


def _acceptable_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError(problem)


def Password(**kwargs) -> fields.String:  # noqa: N802 - reads like the field classes
    """A new password: 10 to 1024 characters and not one of the most common ones."""
    return fields.String(validate=_acceptable_password, **kwargs)


def DisplayName(**kwargs) -> TrimmedString:  # noqa: N802
    return TrimmedString(validate=validate.Length(min=1, max=100), **kwargs)


class RegisterSchema(Schema):
    email = Email(required=True)
    password = Password(required=True, load_only=True)
    display_name = DisplayName(required=True)
    timezone = TimeZone(load_default="UTC")


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    remember = StrictBoolean(load_default=False)


class TokenSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EmailOnlySchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))


class PasswordResetConfirmSchema(TokenSchema):
    password = Password(required=True)


class PasswordSchema(Schema):
    password = fields.String(required=True, validate=validate.Length(max=1024))


class EmailPreferencesSchema(Schema):
    reminders = StrictBoolean()
    badges = StrictBoolean()


class StreakSchema(Schema):
    current_days = fields.Integer()
    longest_days = fields.Integer()


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    timezone = fields.String()
    reminder_hour = fields.Integer()
    email_preferences = fields.Nested(EmailPreferencesSchema)
    email_verified = fields.Boolean()
    is_admin = fields.Boolean()
    streak = fields.Nested(StreakSchema)
    created_at = fields.String()


class ProfilePatchSchema(Schema):
    display_name = DisplayName()
    timezone = TimeZone()
    reminder_hour = fields.Integer(strict=True, validate=validate.Range(min=0, max=23))
    email_preferences = fields.Nested(EmailPreferencesSchema)


class LoginAnswerSchema(Schema):
    user = fields.Nested(UserSchema)
    csrf_token = fields.String()


class CsrfSchema(Schema):
    csrf_token = fields.String()


class TokenCreateSchema(Schema):
    name = TrimmedString(required=True, validate=validate.Length(min=1, max=100))


class AccessTokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The first characters, to tell tokens apart."})
    created_at = fields.String()
    last_used_at = fields.String(allow_none=True)


class NewAccessTokenSchema(AccessTokenSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


AccessTokenPageSchema = page_of(AccessTokenSchema)
TokenListArgs = PageArgs
