"""Account requests and answers."""
from marshmallow import Schema, ValidationError, fields, validate

from ..fields import Email, Name, Secret, StrictBoolean, Text, TimeZone, TrimmedString
from ..schemas import PageArgs, Timestamp, page_of
from .models import DEFAULT_TOKEN_DAYS, DEFAULT_TOKEN_SCOPES, TOKEN_SCOPES
from .passwords import password_problem


def _acceptable_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValidationError(problem)


def Password(**kwargs) -> Text:  # noqa: N802 - reads like the field classes
    """A new password: 10 to 1024 characters and not one of the most common ones."""
    return Text(validate=_acceptable_password, **kwargs)


def DisplayName(**kwargs) -> Name:  # noqa: N802
    return Name(validate=validate.Length(min=1, max=100), **kwargs)


class RegisterSchema(Schema):
    email = Email(required=True)
    password = Password(required=True, load_only=True)
    display_name = DisplayName(required=True)
    timezone = TimeZone(load_default="UTC")


class LoginSchema(Schema):
    email = Text(required=True, validate=validate.Length(max=320))
    password = Secret(required=True, validate=validate.Length(max=1024))
    remember = StrictBoolean(load_default=False)


class TokenSchema(Schema):
    token = Text(required=True, validate=validate.Length(min=1, max=2000))


class EmailOnlySchema(Schema):
    email = Text(required=True, validate=validate.Length(max=320))


class PasswordResetConfirmSchema(TokenSchema):
    password = Password(required=True)


class PasswordSchema(Schema):
    password = Secret(required=True, validate=validate.Length(max=1024))


class PasswordChangeSchema(Schema):
    current_password = Secret(required=True, validate=validate.Length(max=1024))
    new_password = Password(required=True)


class EmailChangeSchema(Schema):
    password = Secret(required=True, validate=validate.Length(max=1024))
    email = Email(required=True)


class AcceptedSchema(Schema):
    """The answer to a request whose effect follows later (a mail)."""
    detail = fields.String()


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
    created_at = Timestamp()


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
    expires_in_days = fields.Integer(strict=True, load_default=DEFAULT_TOKEN_DAYS,
                                     validate=validate.Range(min=1, max=365))
    scopes = fields.List(fields.String(validate=validate.OneOf(TOKEN_SCOPES)),
                         load_default=list(DEFAULT_TOKEN_SCOPES),
                         validate=validate.Length(min=1, max=len(TOKEN_SCOPES)),
                         metadata={"description": "learning: the catalog, enrollments, progress, "
                                   "the profile and export; account: also tokens, password, "
                                   "address and deletion; admin: the admin endpoints."})


class AccessTokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The first characters, to tell tokens apart."})
    scopes = fields.List(fields.String())
    created_at = Timestamp()
    expires_at = Timestamp()
    last_used_at = Timestamp(allow_none=True)


class NewAccessTokenSchema(AccessTokenSchema):
    token = fields.String(metadata={"description": "Shown once; only its hash is stored."})


AccessTokenPageSchema = page_of(AccessTokenSchema)
TokenListArgs = PageArgs
