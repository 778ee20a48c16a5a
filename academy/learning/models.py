"""Enrollments, lesson completions and the local days a learner was active."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class EnrollmentStatus(str, enum.Enum):
    active = "active"
    completed = "completed"
    dropped = "dropped"


class Enrollment(db.Model):
    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("user_id", "track_id"),
        Index("ix_enrollment_track_id_status", "track_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        Enum(EnrollmentStatus, name="enrollment_status", native_enum=False, length=16),
        default=EnrollmentStatus.active,
    )
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    dropped_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Reminders (academy.learning.schedule): the stage last mailed in the current idle
    # spell, the activity time that spell started from, and when the next stage falls due.
    # next_reminder_at is NULL when nothing is due (paused after stage 3, dropped, completed),
    # so the sweep reads only the due rows through its index.
    reminder_stage: Mapped[int] = mapped_column(default=0)
    reminder_anchor: Mapped[datetime | None]
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)


class LessonCompletion(db.Model):
    __tablename__ = "lesson_completion"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "lesson_id"),
        Index("ix_lesson_completion_lesson_id", "lesson_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The lesson's content hash when it was completed: later work can tell what changed since.
    content_hash: Mapped[str] = mapped_column(String(64))


class LearningDay(db.Model):
    """A local calendar day on which the learner completed a lesson, fixed in the timezone
    they had then, so a later timezone change never rewrites their streak history."""

    __tablename__ = "learning_day"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
