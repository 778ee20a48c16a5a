"""Tracks, lessons and badge classes from ``content/tracks``, careers from ``content/careers``."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class LessonCompletionKind:
    self_ = "self"
    check = "check"
    evidence = "evidence"


class Track(db.Model):
    __tablename__ = "track"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    career: Mapped[str] = mapped_column(String(100), index=True)
    position: Mapped[int]
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    # A track whose folder disappeared is retired, never deleted: learners keep their progress.
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="track", order_by="Lesson.position", lazy="raise"
    )


class Lesson(db.Model):
    __tablename__ = "lesson"
    __table_args__ = (
        UniqueConstraint("track_id", "slug"),
        Index("ix_lesson_track_current", "track_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int]
    # Reading and exercises take ``minutes``; a project lesson's project takes these hours more.
    project_hours: Mapped[float | None] = mapped_column(Float)  # as migration 0010 made it
    # 1-based order among current lessons; None once retired.
    position: Mapped[int | None]
    resources: Mapped[list[dict]] = mapped_column(JSON, default=list)
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # How the lesson is completed: ``self`` (the learner says so), ``check`` (by passing its
    # questions) or ``evidence`` (by submitting a link that matches its pattern).
    completion: Mapped[str] = mapped_column(String(16), default=LessonCompletionKind.self_,
                                            server_default=LessonCompletionKind.self_)
    # The questions with their choices, which are correct and why (never sent as they are):
    # [{id, prompt, choices: [{id, text, why, correct}]}]; and {prompt, url_pattern}.
    check: Mapped[list[dict] | None] = mapped_column("check_questions", JSON(none_as_null=True))
    evidence: Mapped[dict | None] = mapped_column("evidence_request", JSON(none_as_null=True))
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    track: Mapped[Track] = relationship(back_populates="lessons", lazy="raise")


# A badge class is content: ``track.yaml`` defines a track's, sync writes it, the catalog lists
# it beside its track. Awarding one is the badges domain's work (``academy.badges``).
class BadgeClass(db.Model):
    __tablename__ = "badge_class"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    criteria: Mapped[str] = mapped_column(Text)
    # Exactly one of the two is set: a track's badge, or the badge for a whole career.
    track_id: Mapped[int | None] = mapped_column(ForeignKey("track.id"), unique=True)
    career: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Career(db.Model):
    """A career page's facts, from ``content/careers/<slug>.yaml``; tracks join it by ``Track.career``."""

    __tablename__ = "career"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    # The rest of the file: salary figures, growth, levels, a typical day, the FAQ, the source.
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    # A career whose file disappeared is retired, never deleted, like a track.
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def career_badge_slug(career: str) -> str:
    return f"{career}-career"
