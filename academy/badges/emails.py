"""Badge mail: each function returns the context of the template named like it."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..catalog.models import BadgeClass, Track
from ..extensions import db
from . import documents


def badge_earned(user, badge_class, award) -> dict:
    """A badge was awarded: its share page, LinkedIn link, and the next track of the career."""
    follow_up = next_track_after(badge_class)
    base = current_app.config["BASE_URL"]
    return {
        "display_name": user.display_name,
        "badge_name": badge_class.name,
        "track_title": follow_up.completed_title,
        "criteria": badge_class.criteria,
        "badge_url": documents.assertion_url(award),
        "linkedin_url": documents.linkedin_add_url(award, badge_class),
        "next_track_title": follow_up.next_title,
        "next_track_url": f"{base}/tracks/{follow_up.next_slug}" if follow_up.next_slug else None,
    }


@dataclass(frozen=True)
class FollowUp:
    completed_title: str
    next_slug: str | None
    next_title: str | None


def next_track_after(badge_class: BadgeClass) -> FollowUp:
    """What a badge completed, and the career's next track to suggest (None after the last)."""
    if badge_class.track_id is None:
        return FollowUp(f"every track of {badge_class.name}", None, None)
    track = db.session.get(Track, badge_class.track_id)
    following = db.session.scalar(
        select(Track).where(Track.career == track.career, Track.position > track.position,
                            Track.retired_at.is_(None)).order_by(Track.position).limit(1))
    return FollowUp(track.title, following.slug if following else None,
                    following.title if following else None)
