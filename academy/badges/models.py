"""Badge awards: one learner's badge of a badge class (the class is content, in the catalog)."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


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
