"""Strict marshmallow fields: a wrong JSON type is a 422, never silently coerced."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` and ``false``; ``"yes"`` or ``1`` is an error."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Email(fields.String):
    """An address, trimmed and checked for syntax (no DNS); stored lower-cased."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > 320:
            raise ValidationError("Longer than the longest possible email address.")
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from exc
        return checked.normalized.lower()


class TimeZone(fields.String):
    """An IANA time zone name such as ``Europe/Berlin``."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        try:
            if not name or name.startswith("/") or ".." in name:
                raise ValueError(name)
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("Not an IANA time zone name, such as 'Europe/Berlin'.") from exc
        return name


class TrimmedString(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()
