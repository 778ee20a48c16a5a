"""Strict marshmallow fields: a wrong JSON type is a 422, never silently coerced, and no text
gets through that the database, a mail header or a log line cannot hold."""
from __future__ import annotations

import re
import unicodedata
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields

# JSON's "\ud800" escape decodes to a lone surrogate, which no encoder (psycopg, SMTP, a log
# file) can write; PostgreSQL text cannot hold NUL at all. Control characters: C0, DEL and C1.
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = "\t\n\r"


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot be taken as text from a client, or None.

    A lone surrogate and NUL are never allowed; the other control characters are allowed only
    as tab and line breaks in ``multiline`` text."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        return (f"Contains an unpaired surrogate (U+{ord(surrogate.group()):04X}), which is not a "
                f"character; send text as UTF-8.")
    for control in _CONTROL.finditer(text):
        if not (multiline and control.group() in _LINE_BREAKS):
            return f"Contains the control character U+{ord(control.group()):04X}, which is not allowed here."
    return None


class Text(fields.String):
    """A string from a client: the base of every string field that loads user input.

    Refuses lone surrogates and NUL everywhere and, unless ``multiline``, every other control
    character (tab and line breaks are allowed in multiline text)."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = self._problem(text)
        if problem:
            raise ValidationError(problem)
        return text

    def _problem(self, text: str) -> str | None:
        return text_problem(text, multiline=self.multiline)


class Secret(Text):
    """A password typed to prove who one is (signing in, erasing the account).

    Only a lone surrogate is refused: no password can have been set with one (it cannot be
    hashed), while one set with a control character before those were refused must still work."""

    def _problem(self, text: str) -> str | None:
        return text_problem(text) if _SURROGATE.search(text) else None


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` and ``false``; ``"yes"`` or ``1`` is an error."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def normalise_email(address: str) -> str:
    """The form an address is stored and looked up in: trimmed, NFKC, lower-cased.

    NFKC folds look-alikes such as full-width ``ａｌｉｃｅ`` into ``alice``, so they can neither
    open a second account nor miss the first when signing in."""
    return unicodedata.normalize("NFKC", address.strip()).lower()


class Email(Text):
    """An address, normalised (``normalise_email``) and checked for syntax (no DNS).

    Internationalised addresses (``zoë@exämple.org``) are accepted; the domain is kept in its
    Unicode form, as email_validator normalises it."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = normalise_email(super()._deserialize(value, attr, data, **kwargs))
        if len(text) > 320:
            raise ValidationError("Longer than the longest possible email address.")
        try:
            checked = validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from exc
        return normalise_email(checked.normalized)


# Names the zone database lists that are not places: the host's own zone, a file of rules,
# and the placeholder zone; and the copies of the whole database under posix/ and right/ (the
# latter with leap seconds, which no learner's clock keeps).
_NOT_ZONES = {"localtime", "posixrules", "Factory"}
_NOT_ZONE_PREFIXES = ("posix/", "right/")


@cache
def time_zone_names() -> frozenset[str]:
    """The zone names ``TimeZone`` accepts (read from the zone database once)."""
    return frozenset(name for name in available_timezones()
                     if name not in _NOT_ZONES and not name.startswith(_NOT_ZONE_PREFIXES))


class TimeZone(Text):
    """An IANA time zone name such as ``Europe/Berlin``.

    Accepted: every name ``zoneinfo.available_timezones()`` lists, except ``localtime``,
    ``posixrules``, ``Factory`` and anything under ``posix/`` or ``right/``. So ``UTC``, the
    ``Etc/`` zones and the database's backward links (``Asia/Calcutta``, ``US/Eastern``) stay
    valid, because learners' devices still report them and each names a real zone; names that
    describe the server (``localtime``) or a file of the database rather than a place do not.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        try:
            if name not in time_zone_names():
                raise ValueError(name)
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError("Not an IANA time zone name, such as 'Europe/Berlin'.") from exc
        return name


class TrimmedString(Text):
    """Single-line text with the spaces around it removed."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


# Invisible characters that change how the text around them reads: bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069, which can make "evil" display as "live"),
# zero-width spaces, soft hyphens, byte order marks. Category Cf, minus ZWNJ and ZWJ: Persian,
# the Indic scripts and emoji sequences need those two to spell names right.
_JOINERS = {"\u200c", "\u200d"}


class Name(TrimmedString):
    """A name others may see: single-line text without format characters but the joiners."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        for char in name:
            if unicodedata.category(char) in ("Cf", "Zl", "Zp") and char not in _JOINERS:
                raise ValidationError(f"Contains the invisible character U+{ord(char):04X}, "
                                      f"which names may not hold.")
        return name
