"""UTC time helpers: the database stores naive UTC, the API speaks ISO 8601 with ``Z``."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Naive UTC now, as stored in every DateTime column (portable across SQLite and PostgreSQL)."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_date(when: datetime, timezone: str) -> date:
    """The calendar day in ``timezone`` at ``when`` (naive UTC, as stored)."""
    return when.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"
