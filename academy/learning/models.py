"""Enrollments, lesson completions and the local days a learner was active."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint
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


class CheckAttempt(db.Model):
    """One submission of a lesson's check, graded in full and kept: what was chosen, against
    which version of the questions (the lesson's content hash), and how it went."""

    __tablename__ = "check_attempt"
    __table_args__ = (Index("ix_check_attempt_enrollment_lesson", "enrollment_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    # {question id: [choice id, ...]}, as submitted (and validated).
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[int]
    total: Mapped[int]
    passed: Mapped[bool] = mapped_column(Boolean)
    # The learner's first attempt at this lesson's check: what "first try" statistics count.
    first: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckAnswer(db.Model):
    """One question of an attempt, right or wrong: what the per-question statistics add up."""

    __tablename__ = "check_answer"
    __table_args__ = (Index("ix_check_answer_lesson_question", "lesson_id", "question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("check_attempt.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"))
    question: Mapped[str] = mapped_column(String(100))
    correct: Mapped[bool] = mapped_column(Boolean)
    first: Mapped[bool] = mapped_column(Boolean)


class LessonEvidence(db.Model):
    """The link (and note) a learner submitted to complete a project lesson; the badge of the
    track carries it. A new submission replaces the last."""

    __tablename__ = "lesson_evidence"
    __table_args__ = (UniqueConstraint("enrollment_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"))
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"))
    url: Mapped[str] = mapped_column(String(2000))
    note: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
