"""Badge classes: one per track (from ``track.yaml``) and one per career."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


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


def career_badge_slug(career: str) -> str:
    return f"{career}-career"
