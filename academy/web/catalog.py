"""The course pages: home, a career's path, a track, a lesson; enrolling and marking progress,
answering a lesson's check and submitting a project's link.

Catalog answers come from the per-process catalog cache (``catalog.service.cached``), so a
signed-in learner's page costs the session's user and one statement for their enrollments.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from ..accounts import limits
from ..catalog import service as catalog
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..learning import checks
from ..learning import service as learning
from ..learning.schemas import EvidenceSubmitSchema
from . import bp
from .forms import field_errors
from .guard import signed_in
from .render import page


def _my_enrollments() -> dict:
    """The signed-in learner's enrollments by track slug (one statement), or {}."""
    if not current_user.is_authenticated:
        return {}
    views, _ = learning.list_enrollments(current_user.id, 1, 100)
    return {view.track.slug: view for view in views}


def _state(view) -> str:
    if view is None or view.enrollment.status.value == "dropped":
        return "not-started"
    return "done" if view.enrollment.status.value == "completed" else "in-progress"


def _steps(tracks: list[dict], mine: dict) -> list[dict]:
    steps = []
    for track in tracks:
        view = mine.get(track["slug"])
        steps.append({**track, "state": _state(view),
                      "percent": view.progress.percent if view is not None else None})
    return steps


def _cached_page(key: tuple, build):
    """``build()`` from the catalog cache; an unknown career, track or lesson is a 404 page."""
    try:
        return catalog.cached(key, build)
    except NotFound:
        abort(404)


def _career(slug: str) -> dict:
    return _cached_page(("career-page", slug), lambda: catalog.career_detail(slug))


@bp.get("/")
def home():
    careers, _ = catalog.cached(("career-list",), lambda: catalog.list_careers(1, 100))
    mine = _my_enrollments()
    paths = [{**career, "steps": _steps(_career(career["slug"])["tracks"], mine)}
             for career in careers]
    return page("web/home.html", careers=paths)


@bp.get("/careers/<slug>")
def career(slug):
    detail = _career(slug)
    return page("web/career.html", career=detail, steps=_steps(detail["tracks"], _my_enrollments()))


def _track(slug: str) -> dict:
    return _cached_page(("track-page", slug), lambda: catalog.track_detail(slug))


@bp.get("/tracks/<slug>")
def track(slug):
    detail = _track(slug)
    view = _my_enrollments().get(slug)
    enrolled = view is not None and view.enrollment.status.value != "dropped"
    done = set(view.progress.completed_lessons) if view is not None else set()
    # Enrolled before finishing what the track builds on: allowed, and said while it lasts
    # (one statement, only for a track with prerequisites).
    warnings = (learning.enrollment_warnings(current_user.id, detail["prerequisites"])
                if enrolled and view.enrollment.status.value == "active" else [])
    return page("web/track.html", track=detail, view=view, enrolled=enrolled, done=done,
                warnings=warnings)


@bp.post("/tracks/<slug>/enroll")
@signed_in
def enroll(slug):
    try:
        view, _ = learning.enroll(current_user.id, slug)
    except NotFound:
        abort(404)
    warned = bool(view.warnings)
    db.session.commit()
    flash(f"You are enrolled in {view.track.title}.", "success")
    next_lesson = view.progress.next_lesson
    # With unfinished prerequisites, the track page says so (and links them) before lesson one.
    if next_lesson and not warned:
        return redirect(url_for("web.lesson", slug=slug, lesson=next_lesson))
    return redirect(url_for("web.track", slug=slug))


def _lesson_body(slug: str, lesson: str) -> dict:
    return _cached_page(("lesson-page", slug, lesson), lambda: catalog.lesson_detail(slug, lesson))


def _lesson_page(slug: str, lesson: str, status: int = 200, **form):
    """The lesson page; ``form`` is what a check or evidence POST shows again: ``answers``
    ({question id: [choice id]}), ``graded`` (the attempt), ``values``, ``errors`` and
    ``summary`` (the error summary's links, {control id: message})."""
    detail = _track(slug)
    lessons = detail["lessons"]
    index = next((i for i, item in enumerate(lessons) if item["slug"] == lesson), None)
    if index is None:
        abort(404)
    body = _lesson_body(slug, lesson)
    view = _my_enrollments().get(slug)
    enrolled = view is not None and view.enrollment.status.value != "dropped"
    graded = form.get("graded")
    return page(
        "web/lesson.html", status, track=detail, lesson=body, position=index + 1,
        total=len(lessons), previous=lessons[index - 1] if index > 0 else None,
        following=lessons[index + 1] if index + 1 < len(lessons) else None,
        view=view, enrolled=enrolled,
        done=view is not None and lesson in view.progress.completed_lessons,
        new=view is not None and lesson in view.progress.new_lessons,
        answers=form.get("answers", {}), values=form.get("values", {}),
        errors=form.get("errors", {}), summary=form.get("summary", {}), graded=graded,
        results={result["question"]: result for result in graded["results"]} if graded else {})


@bp.get("/tracks/<slug>/<lesson>")
def lesson(slug, lesson):
    return _lesson_page(slug, lesson)


@bp.post("/tracks/<slug>/<lesson>/complete")
@signed_in
def complete(slug, lesson):
    try:
        view = learning.complete_lesson(current_user.id, slug, lesson)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.detail, "error")
        return redirect(url_for("web.track", slug=slug))
    db.session.commit()
    if view.enrollment.status.value == "completed" and not view.progress.next_lesson:
        flash(f"You finished {view.track.title}. Your badge is on its way to your dashboard.",
              "success")
        return redirect(url_for("web.track", slug=slug))
    flash(f"Lesson done: {view.progress.percent}% of the track.", "success")
    if view.progress.next_lesson:
        return redirect(url_for("web.lesson", slug=slug, lesson=view.progress.next_lesson))
    return redirect(url_for("web.track", slug=slug))


def _refused(slug: str, lesson: str, exc: Conflict):
    """Not enrolled, dropped, or the wrong kind of lesson: said on the lesson page."""
    flash(exc.detail, "error")
    return redirect(url_for("web.lesson", slug=slug, lesson=lesson))


def _answers_of(form) -> dict[str, list[str]]:
    """``q-<question id>`` fields (a radio's one value, a checkbox group's several) as the
    service's answers; a question left blank is simply absent."""
    return {name[2:]: [value for value in form.getlist(name) if value]
            for name in form if name.startswith("q-")}


def _unanswered(questions: list[dict], problems: dict) -> tuple[dict, dict]:
    """The service's ``answers.<id>`` problems as (beside each question, {id: message}) and
    the error summary ({first choice's id: "Question 2: message"}), in the page's order."""
    beside = {field.removeprefix("answers."): reasons[0] for field, reasons in problems.items()}
    summary = {f"q-{question['id']}": f"Question {number}: {beside[question['id']]}"
               for number, question in enumerate(questions, 1) if question["id"] in beside}
    known = {question["id"] for question in questions}
    summary.update({"check": message for qid, message in beside.items() if qid not in known})
    return beside, summary


@bp.post("/tracks/<slug>/<lesson>/check")
@signed_in
@limits.attempts
def check(slug, lesson):
    answers = _answers_of(request.form)
    try:
        graded = checks.attempt(current_user.id, slug, lesson, answers)
    except NotFound:
        abort(404)
    except Conflict as exc:
        return _refused(slug, lesson, exc)
    except Invalid as exc:
        questions = _lesson_body(slug, lesson)["check"] or []
        beside, summary = _unanswered(questions, exc.errors or {})
        return _lesson_page(slug, lesson, 422, answers=answers, errors=beside, summary=summary)
    db.session.commit()
    # Shown, not redirected to: the graded answers are the page (a miss teaches).
    return _lesson_page(slug, lesson, answers=answers, graded=graded)


@bp.post("/tracks/<slug>/<lesson>/evidence")
@signed_in
@limits.attempts
def evidence(slug, lesson):
    # A browser sends a textarea's line breaks as CRLF; its maxlength counts them as one.
    values = {"url": request.form.get("url", "").strip(),
              "note": request.form.get("note", "").replace("\r\n", "\n")}
    try:
        if not values["url"]:
            raise ValidationError({"url": ["Enter the link to your project."]})
        body = EvidenceSubmitSchema().load(values)
        checks.submit_evidence(current_user.id, slug, lesson, body["url"], body["note"])
    except ValidationError as exc:
        errors = field_errors(exc.messages)
        return _lesson_page(slug, lesson, 422, values=values, errors=errors, summary=errors)
    except NotFound:
        abort(404)
    except Conflict as exc:
        return _refused(slug, lesson, exc)
    except Invalid as exc:
        errors = field_errors(exc.errors)
        return _lesson_page(slug, lesson, 422, values=values, errors=errors, summary=errors)
    db.session.commit()
    flash("Your project is submitted: this lesson is complete.", "success")
    return redirect(url_for("web.lesson", slug=slug, lesson=lesson))
