"""What the page forms share: marshmallow's messages as one message per field, the zone list."""
from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from marshmallow import fields, validate

from ..accounts.schemas import ProfilePatchSchema
from ..errors import flatten_messages


class SettingsForm(ProfilePatchSchema):
    """The settings form: the API's profile rules, with the hour as a form sends it ("9")."""

    reminder_hour = fields.Integer(validate=validate.Range(min=0, max=23))


def field_errors(messages) -> dict[str, str]:
    """``{"field": "First reason."}``, as a form shows them: one message beside each field."""
    return {field: reasons[0] for field, reasons in flatten_messages(messages).items() if reasons}


@cache
def time_zones() -> tuple[str, ...]:
    """Canonical IANA zone names, sorted: ``Europe/Paris``, not ``posixrules`` or ``localtime``."""
    canonical = (zone for zone in available_timezones()
                 if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/", "right/")))
    return ("UTC", *sorted(canonical))


@cache
def zone_options() -> tuple[tuple[str, str], ...]:
    """The zones as a select's (value, text) options: ``America/New_York`` reads "America/New York"."""
    return tuple((zone, zone.replace("_", " ")) for zone in time_zones())
