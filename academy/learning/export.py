"""The learner's enrollments, completions and learning days, as the data export lists them.

An enrollment is shaped as the API answers it (``track`` as ``{slug, title}``, ``completed_lessons``
the slugs of the current lessons done, as in ``progress``), plus what only the export shows: when
it was dropped, every stored completion with its time, retired lessons' included, every attempt
at a check and the evidence submitted.
"""
from __future__ import annotations

from sqlalchemy import select

from ..catalog.models import Lesson, Track
from ..extensions import db
from ..timeutil import isoformat
from . import checks, service
from .models import Enrollment, LearningDay, LessonCompletion


def sections(user_id: int) -> dict:
    enrollments = db.session.execute(
        select(Enrollment, Track.slug, Track.title).join(Track).where(Enrollment.user_id == user_id)
        .order_by(Enrollment.id)
    ).all()
    progress = service.progress_of([e for e, _, _ in enrollments]) if enrollments else {}
    completions: dict[int, list[dict]] = {}
    for completion, lesson_slug in db.session.execute(
        select(LessonCompletion, Lesson.slug).join(Lesson)
        .where(LessonCompletion.enrollment_id.in_([e.id for e, _, _ in enrollments]))
        .order_by(LessonCompletion.completed_at)
    ):
        completions.setdefault(completion.enrollment_id, []).append({
            "lesson": lesson_slug, "completed_at": isoformat(completion.completed_at),
            "content_hash": completion.content_hash})
    attempts, evidence = checks.export([e.id for e, _, _ in enrollments])
    days = db.session.scalars(select(LearningDay.day).where(LearningDay.user_id == user_id)
                              .order_by(LearningDay.day))
    return {
        "enrollments": [{
            "track": {"slug": slug, "title": title}, "status": e.status.value,
            "enrolled_at": isoformat(e.enrolled_at), "completed_at": isoformat(e.completed_at),
            "dropped_at": isoformat(e.dropped_at), "last_activity_at": isoformat(e.last_activity_at),
            "completed_lessons": list(progress[e.id].completed_lessons),
            "completions": completions.get(e.id, []),
            "check_attempts": attempts.get(e.id, []),
            "evidence": evidence.get(e.id, []),
        } for e, slug, title in enrollments],
        "learning_days": [day.isoformat() for day in days],
    }
