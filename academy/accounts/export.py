"""``GET /me/export``: everything stored about a learner, in one document."""
from __future__ import annotations

from sqlalchemy import select

from ..badges.models import BadgeAward, BadgeClass
from ..catalog.models import Lesson, Track
from ..extensions import db
from ..learning.models import Enrollment, LearningDay, LessonCompletion
from ..notifications.models import OutboxMessage
from ..timeutil import isoformat
from .models import AccessToken, User


def export(user: User) -> dict:
    from .views import token_dict, user_dict

    enrollments = db.session.execute(
        select(Enrollment, Track.slug).join(Track).where(Enrollment.user_id == user.id)
        .order_by(Enrollment.id)
    ).all()
    completions: dict[int, list[dict]] = {}
    for completion, lesson_slug in db.session.execute(
        select(LessonCompletion, Lesson.slug).join(Lesson)
        .where(LessonCompletion.enrollment_id.in_([e.id for e, _ in enrollments]))
        .order_by(LessonCompletion.completed_at)
    ):
        completions.setdefault(completion.enrollment_id, []).append({
            "lesson": lesson_slug, "completed_at": isoformat(completion.completed_at),
            "content_hash": completion.content_hash})
    tokens = db.session.scalars(select(AccessToken).where(AccessToken.user_id == user.id))
    days = db.session.scalars(select(LearningDay.day).where(LearningDay.user_id == user.id)
                              .order_by(LearningDay.day))
    document = {
        "user": {**user_dict(user), "email_verified_at": isoformat(user.email_verified_at),
                 "updated_at": isoformat(user.updated_at)},
        "access_tokens": [token_dict(t) for t in tokens],
        "enrollments": [{
            "track": slug, "status": e.status.value, "enrolled_at": isoformat(e.enrolled_at),
            "completed_at": isoformat(e.completed_at), "dropped_at": isoformat(e.dropped_at),
            "last_activity_at": isoformat(e.last_activity_at),
            "completed_lessons": completions.get(e.id, []),
        } for e, slug in enrollments],
        "learning_days": [day.isoformat() for day in days],
        "emails": [{
            "category": m.category.value, "subject": m.subject, "to": m.to_address,
            "status": m.status.value, "created_at": isoformat(m.created_at),
            "sent_at": isoformat(m.sent_at),
        } for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user.id)
                                      .order_by(OutboxMessage.id))],
        "badges": [{
            "id": award.public_id, "badge": badge_class.slug, "issued_at": isoformat(award.issued_at),
            "revoked_at": isoformat(award.revoked_at),
        } for award, badge_class in db.session.execute(
            select(BadgeAward, BadgeClass).join(BadgeClass).where(BadgeAward.user_id == user.id))],
    }
    return document
