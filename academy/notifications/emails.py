"""Account mail: each function returns the context of the template named like it.

Queue one with ``queue_mail("verify_email", user.email, verify_email(user, token),
key=f"verify:{user.id}:{n}", user_id=user.id)``.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app

VERIFY_EMAIL_HOURS = 48
PASSWORD_RESET_MINUTES = 60


def _link(path: str, **query: str) -> str:
    return f"{current_app.config['BASE_URL']}{path}?{urlencode(query)}"


def verify_email(user, token: str) -> dict:
    """Confirm the address: a link to ``/verify-email?token=…``, valid 48 hours."""
    return {
        "display_name": user.display_name,
        "verify_url": _link("/verify-email", token=token),
        "expires_hours": VERIFY_EMAIL_HOURS,
    }


def password_reset(user, token: str) -> dict:
    """Choose a new password: a link to ``/reset-password?token=…``, valid one hour."""
    return {
        "display_name": user.display_name,
        "reset_url": _link("/reset-password", token=token),
        "expires_minutes": PASSWORD_RESET_MINUTES,
    }


def badge_earned(user, badge_class, award) -> dict:
    """A badge was awarded: its share page, LinkedIn link, and the next track of the career."""
    from ..badges import documents
    from ..badges.service import next_track_after

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
        "next_track_url": f"{base}/api/v1/tracks/{follow_up.next_slug}" if follow_up.next_slug else None,
    }


def reminder(user, items: list[dict]) -> dict:
    """Stalled tracks, each with its percent and a link to its next lesson."""
    from sqlalchemy import select

    from ..catalog.models import Lesson, Track
    from ..extensions import db

    titles = dict(db.session.execute(
        select(Track.slug + "/" + Lesson.slug, Lesson.title).join(Track)
        .where(Track.slug.in_([i["track_slug"] for i in items]))
    ).all())
    return {
        "display_name": user.display_name,
        "items": [{**item, "next_lesson_title": titles.get(f"{item['track_slug']}/{item['next_lesson']}",
                                                           item["next_lesson"])}
                  for item in items],
        "longest_idle": max(item["idle_days"] for item in items),
    }
