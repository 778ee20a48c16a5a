"""Lessons that ask for more than a click: a check for understanding, or a project's evidence.

A check is graded here, on the server, in full: every question right or wrong, what was chosen
and the explanation of every choice, so a miss teaches. Passing (every question right)
completes the lesson through ``service.record_completion``, the path a PUT takes. Every attempt
is kept with the content hash of the questions it answered. Evidence is a link matching the
lesson's pattern, with an optional note; the track's badge carries it.
"""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import and_, case, delete, func, insert, select

from ..catalog.models import Lesson, Track
from ..catalog.service import get_track
from ..dbutil import dialect_insert
from ..errors import Conflict, Invalid
from ..extensions import db
from ..timeutil import isoformat, utcnow
from . import service
from .models import CheckAnswer, CheckAttempt, Enrollment, LessonEvidence


def _lesson_asking(user_id: int, track_slug: str, lesson_slug: str, kind: str, endpoint: str):
    track, ref, enrollment = service.active_enrollment_and_lesson(user_id, track_slug, lesson_slug)
    if ref.completion != kind:
        sentence, path = service.how_completed(ref.completion, track_slug, lesson_slug)
        raise Conflict(f"This lesson has no {endpoint} to submit. {sentence}",
                       errors={"endpoint": [path]})
    return track, ref, enrollment, db.session.get(Lesson, ref.id)


# -- checks --------------------------------------------------------------------------------------

def _answer_problems(questions: list[dict], answers: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    known = {q["id"]: q for q in questions}
    for qid in answers:
        if qid not in known:
            errors[f"answers.{qid}"] = ["This lesson has no such question."]
    for question in questions:
        chosen = answers.get(question["id"])
        field = f"answers.{question['id']}"
        if not chosen:
            errors[field] = ["Answer this question."]
            continue
        ids = {c["id"] for c in question["choices"]}
        unknown = [c for c in chosen if c not in ids]
        if unknown:
            errors[field] = [f"No such choice: {', '.join(unknown)} (choices are "
                             f"{', '.join(sorted(ids))})."]
        elif len(set(chosen)) > 1 and sum(c["correct"] for c in question["choices"]) == 1:
            errors[field] = ["Choose one answer: this question has one right choice."]
    return errors


def grade(questions: list[dict], answers: dict) -> list[dict]:
    """Each question right or wrong, what was chosen, and why every choice is right or wrong."""
    results = []
    for question in questions:
        chosen = sorted(set(answers[question["id"]]))
        right = sorted(c["id"] for c in question["choices"] if c["correct"])
        results.append({
            "question": question["id"],
            "correct": chosen == right,
            "chosen": chosen,
            "explanations": {c["id"]: c["why"] for c in question["choices"]},
        })
    return results


def attempt(user_id: int, track_slug: str, lesson_slug: str, answers: dict,
            now: datetime | None = None) -> dict:
    """Grade an attempt at the lesson's check and keep it; passing completes the lesson."""
    track, ref, enrollment, lesson = _lesson_asking(user_id, track_slug, lesson_slug, "check",
                                                    "check")
    questions = lesson.check or []
    errors = _answer_problems(questions, answers)
    if errors:
        raise Invalid("Answer every question of the check with the ids of your choices.",
                      errors=errors)
    now = now or utcnow()
    results = grade(questions, answers)
    score = sum(result["correct"] for result in results)
    passed = score == len(results)
    # Under the enrollment's lock (taken above), so two first attempts cannot both be first.
    first = not db.session.scalar(select(func.count()).select_from(CheckAttempt).where(
        CheckAttempt.enrollment_id == enrollment.id, CheckAttempt.lesson_id == lesson.id))
    attempt_id = db.session.scalar(insert(CheckAttempt).values(
        enrollment_id=enrollment.id, lesson_id=lesson.id, content_hash=lesson.content_hash,
        answers={r["question"]: r["chosen"] for r in results}, score=score,
        total=len(results), passed=passed, first=first, created_at=now,
    ).returning(CheckAttempt.id))
    db.session.execute(insert(CheckAnswer), [
        {"attempt_id": attempt_id, "lesson_id": lesson.id, "question": r["question"],
         "correct": r["correct"], "first": first} for r in results])
    view = (service.record_completion(user_id, track, ref, enrollment, now) if passed
            else service.view_of(enrollment, track))
    return {"passed": passed, "score": score, "total": len(results), "results": results,
            "enrollment": view}


# -- evidence ------------------------------------------------------------------------------------

def submit_evidence(user_id: int, track_slug: str, lesson_slug: str, url: str, note: str = "",
                    now: datetime | None = None):
    """Keep the link (replacing an earlier one) and complete the lesson; 422 if the link is not
    what the lesson asks for."""
    track, ref, enrollment, lesson = _lesson_asking(user_id, track_slug, lesson_slug,
                                                    "evidence", "evidence")
    wanted = lesson.evidence or {}
    if urlsplit(url).scheme not in ("https", "http"):
        raise Invalid("Submit a web link.", errors={"url": ["Must be an https:// link."]})
    if not re.fullmatch(wanted.get("url_pattern", "$^"), url):
        # In the learner's words: the pattern is in the lesson's answer for a client to show.
        raise Invalid("This link is not what the lesson asks for.",
                      errors={"url": [f"Not the link this lesson asks for. "
                                      f"{wanted.get('prompt', '')}".strip()]})
    now = now or utcnow()
    values = {"enrollment_id": enrollment.id, "lesson_id": lesson.id, "url": url, "note": note,
              "content_hash": lesson.content_hash, "submitted_at": now}
    db.session.execute(dialect_insert(LessonEvidence).values(**values).on_conflict_do_update(
        index_elements=["enrollment_id", "lesson_id"],
        set_={k: values[k] for k in ("url", "note", "content_hash", "submitted_at")}))
    return service.record_completion(user_id, track, ref, enrollment, now)


def evidence_of(user_id: int, track_ids: list[int]) -> list[dict]:
    """The learner's evidence in these tracks, in lesson order, shaped as Open Badges 2.0
    ``Evidence``: ``id`` the link, ``name`` the lesson's title, ``narrative`` the note."""
    if not track_ids:
        return []
    rows = db.session.execute(
        select(LessonEvidence.url, LessonEvidence.note, Lesson.title)
        .join(Enrollment, Enrollment.id == LessonEvidence.enrollment_id)
        .join(Lesson, Lesson.id == LessonEvidence.lesson_id)
        .join(Track, Track.id == Lesson.track_id)
        .where(Enrollment.user_id == user_id, Enrollment.track_id.in_(track_ids))
        .order_by(Track.career, Track.position, Lesson.position, Lesson.id))
    evidence = []
    for url, note, title in rows:
        item = {"type": "Evidence", "id": url, "name": title}
        if note:
            item["narrative"] = note
        evidence.append(item)
    return evidence


# -- the learner's own -------------------------------------------------------------------------

def export(enrollment_ids: list[int]) -> tuple[dict[int, list[dict]], dict[int, list[dict]]]:
    """Attempts and evidence per enrollment, for the data export."""
    attempts: dict[int, list[dict]] = {}
    evidence: dict[int, list[dict]] = {}
    if not enrollment_ids:
        return attempts, evidence
    for row, slug in db.session.execute(
            select(CheckAttempt, Lesson.slug).join(Lesson, Lesson.id == CheckAttempt.lesson_id)
            .where(CheckAttempt.enrollment_id.in_(enrollment_ids)).order_by(CheckAttempt.id)):
        attempts.setdefault(row.enrollment_id, []).append({
            "lesson": slug, "answers": row.answers, "score": row.score, "total": row.total,
            "passed": row.passed, "content_hash": row.content_hash,
            "attempted_at": isoformat(row.created_at)})
    for row, slug in db.session.execute(
            select(LessonEvidence, Lesson.slug).join(Lesson, Lesson.id == LessonEvidence.lesson_id)
            .where(LessonEvidence.enrollment_id.in_(enrollment_ids)).order_by(LessonEvidence.id)):
        evidence.setdefault(row.enrollment_id, []).append({
            "lesson": slug, "url": row.url, "note": row.note, "content_hash": row.content_hash,
            "submitted_at": isoformat(row.submitted_at)})
    return attempts, evidence


def erase(user_id: int) -> None:
    """Forget the learner's evidence (links and notes are theirs); attempts stay, anonymous
    like the enrollments they belong to, so question statistics stay right."""
    db.session.execute(delete(LessonEvidence).where(LessonEvidence.enrollment_id.in_(
        select(Enrollment.id).where(Enrollment.user_id == user_id))))


# -- for authors ---------------------------------------------------------------------------------

def question_stats(track_slug: str) -> list[dict]:
    """Per question of the track's current checks: attempts and the first-try-correct rate
    (the share of learners' first attempts that got it right)."""
    track_id = get_track(track_slug).id
    first = case((CheckAnswer.first, 1), else_=0)
    first_right = case((and_(CheckAnswer.first, CheckAnswer.correct), 1), else_=0)
    lessons = db.session.execute(
        select(Lesson.id, Lesson.slug, Lesson.check)
        .where(Lesson.track_id == track_id, Lesson.retired_at.is_(None),
               Lesson.completion == "check").order_by(Lesson.position)).all()
    counts = {(lesson_id, question): (attempts, firsts, right)
              for lesson_id, question, attempts, firsts, right in db.session.execute(
                  select(CheckAnswer.lesson_id, CheckAnswer.question, func.count(),
                         func.sum(first), func.sum(first_right))
                  .where(CheckAnswer.lesson_id.in_([lesson.id for lesson in lessons]))
                  .group_by(CheckAnswer.lesson_id, CheckAnswer.question))}
    stats = []
    # Every current question, in the lesson's order, attempted or not; removed ones are gone.
    for lesson_id, slug, questions in lessons:
        for question in questions or ():
            attempts, firsts, right = counts.get((lesson_id, question["id"]), (0, 0, 0))
            stats.append({"lesson": slug, "id": question["id"], "attempts": attempts,
                          "first_try_correct_rate":
                              round((right or 0) / firsts, 3) if firsts else None})
    return stats
