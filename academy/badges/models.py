"""Badge classes: one per track (from ``track.yaml``) and one per career."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
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


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class BadgeAward(db.Model):
    """One learner's badge: unique per (learner, badge class), so retries and races award once."""

    __tablename__ = "badge_award"
    __table_args__ = (
        UniqueConstraint("user_id", "badge_class_id"),
        Index("ix_badge_award_badge_class_id", "badge_class_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The public, unguessable id in /badges/<id>: sequential ids would let anyone walk all awards.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Open Badges hashed recipient: sha256$hex(email + salt), fixed when issued.
    recipient_salt: Mapped[str] = mapped_column(String(32))
    recipient_identity: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)
