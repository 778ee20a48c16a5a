"""When an enrollment's next inactivity reminder falls due: stages, quiet hours, local time.

An active enrollment with no completed lesson for 3, then 7, then 14 days reaches stage 1, 2,
3, each mailed at the learner's ``reminder_hour`` local time (never 21:00-08:00 local). Each
enrollment's ``next_reminder_at`` holds the instant its next stage falls due, aligned to the
learner's local hour, so the sweep (``reminders.py``) reads only due rows through an index.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..accounts.models import User
from ..extensions import db
from .models import Enrollment, EnrollmentStatus

STAGE_DAYS = (3, 7, 14)
QUIET_FROM, QUIET_UNTIL = 21, 8  # local hours: nothing is sent from 21:00 until 08:00
UTC = ZoneInfo("UTC")


def send_hour(user: User) -> int:
    """The learner's reminder hour, moved out of the quiet hours if it falls in them."""
    hour = user.reminder_hour
    if hour >= QUIET_FROM:
        return QUIET_FROM - 1
    if hour < QUIET_UNTIL:
        return QUIET_UNTIL
    return hour


def aligned(user: User, not_before: datetime) -> datetime:
    """The first instant at or after ``not_before`` (naive UTC) that is the learner's send hour."""
    zone = ZoneInfo(user.timezone)
    local = not_before.replace(tzinfo=UTC).astimezone(zone)
    hour = send_hour(user)
    candidate = datetime.combine(local.date(), time(hour), tzinfo=zone)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=zone)
    return candidate.astimezone(UTC).replace(tzinfo=None)


def due_at(user: User, anchor: datetime, stage: int) -> datetime | None:
    """When stage ``stage`` (1-based) of the idle spell that began at ``anchor`` is mailed."""
    if stage > len(STAGE_DAYS):
        return None
    return aligned(user, anchor + timedelta(days=STAGE_DAYS[stage - 1]))


def reschedule(enrollment: Enrollment, user: User) -> None:
    """Recompute when the enrollment's next reminder falls due after activity or a change."""
    if enrollment.status != EnrollmentStatus.active:
        enrollment.next_reminder_at = None
        return
    if enrollment.reminder_anchor != enrollment.last_activity_at:
        # Activity since the last reminder: a new idle spell starts at stage 1.
        enrollment.reminder_stage = 0
        enrollment.reminder_anchor = enrollment.last_activity_at
    enrollment.next_reminder_at = due_at(user, enrollment.last_activity_at,
                                         enrollment.reminder_stage + 1)


def reschedule_user(user: User) -> None:
    """After a timezone or reminder-hour change: move every pending reminder to the new hour."""
    for enrollment in db.session.scalars(select(Enrollment).where(
            Enrollment.user_id == user.id, Enrollment.status == EnrollmentStatus.active)):
        reschedule(enrollment, user)
