"""``/api/v1/enrollments`` and the admin statistics."""
from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint

from ..accounts import limits
from ..accounts.auth import learner_view, login_required, require_scope
from ..apidocs import answers
from ..errors import Forbidden
from ..extensions import db
from ..http import ArgumentsParser
from ..schemas import PageArgs
from . import checks, service
from .schemas import (
    AttemptRequestSchema,
    AttemptSchema,
    EnrollmentDetailSchema,
    EnrollmentPageSchema,
    EnrollmentSchema,
    EnrollRequestSchema,
    EvidenceSubmitSchema,
    LessonStatusSchema,
    TrackStatsSchema,
    enrollment_dict,
)

bp = Blueprint("learning", __name__, url_prefix="/api/v1", description="Enrollments and progress")
bp.ARGUMENTS_PARSER = ArgumentsParser()  # before the views' @bp.arguments read it


def _send(answer: dict, status: int = 200):
    """Send an answer built by ``enrollment_dict`` (already JSON) without a second dump;
    flask-smorest passes a Response through, and still documents the schema."""
    return current_app.json.response(answer), status


@bp.route("/enrollments", methods=["POST"])
@login_required
@bp.arguments(EnrollRequestSchema())
@bp.response(201, EnrollmentDetailSchema)
@bp.alt_response(200, schema=EnrollmentDetailSchema, description="Already enrolled")
def enroll(body):
    """Enroll in a track; a dropped enrollment is reactivated with its progress. Unfinished
    prerequisites do not stop it: ``warnings`` names them."""
    view, created = service.enroll(current_user.id, body["track"])
    answer = enrollment_dict(view)  # before the commit, which would expire what it reads
    db.session.commit()
    return _send(answer, 201 if created else 200)


@bp.route("/enrollments", methods=["GET"])
@learner_view
@login_required
@bp.arguments(PageArgs(), location="query", as_kwargs=True)
@bp.response(200, EnrollmentPageSchema)
def list_enrollments(page, per_page):
    """The learner's enrollments with their progress."""
    views, total = service.list_enrollments(current_user.id, page, per_page)
    return _send({"items": [enrollment_dict(v) for v in views], "total": total})


@bp.route("/enrollments/<track>", methods=["GET"])
@learner_view
@login_required
@bp.response(200, EnrollmentDetailSchema)
def get_enrollment(track):
    """One enrollment with its progress and ``warnings`` (unfinished prerequisites)."""
    return _send(enrollment_dict(service.get_enrollment(current_user.id, track)))


@bp.route("/enrollments/<track>", methods=["DELETE"])
@learner_view
@login_required
@bp.response(204)
def drop(track):
    """Drop a track; progress is kept for when the learner comes back."""
    service.drop(current_user.id, track)
    db.session.commit()


@bp.route("/enrollments/<track>/lessons/<lesson>", methods=["PUT"])
@answers(409)
@learner_view
@login_required
@bp.arguments(LessonStatusSchema())
@bp.response(200, EnrollmentSchema)
def complete_lesson(body, track, lesson):
    """Mark a lesson completed; idempotent."""
    view = service.complete_lesson(current_user.id, track, lesson,
                                   learner=current_user._get_current_object())
    # Built before the commit: afterwards every attribute it reads would be reloaded (two
    # more queries) only to give back the values this transaction just wrote.
    answer = enrollment_dict(view)
    db.session.commit()
    return _send(answer)


@bp.route("/enrollments/<track>/lessons/<lesson>/attempts", methods=["POST"])
@answers(409)
@login_required
@limits.attempts
@bp.arguments(AttemptRequestSchema())
@bp.response(200, AttemptSchema)
def attempt_check(body, track, lesson):
    """Answer the lesson's check: graded in full, kept; passing completes the lesson."""
    graded = checks.attempt(current_user.id, track, lesson, body["answers"])
    answer = {**graded, "enrollment": enrollment_dict(graded["enrollment"])}
    db.session.commit()
    return _send(answer)


@bp.route("/enrollments/<track>/lessons/<lesson>/evidence", methods=["POST"])
@answers(409)
@login_required
@limits.attempts
@bp.arguments(EvidenceSubmitSchema())
@bp.response(200, EnrollmentSchema)
def submit_evidence(body, track, lesson):
    """Submit the link a project lesson asks for (and a note); it completes the lesson and
    goes into the track's badge as evidence."""
    view = checks.submit_evidence(current_user.id, track, lesson, body["url"], body["note"])
    answer = enrollment_dict(view)
    db.session.commit()
    return _send(answer)


@bp.route("/enrollments/<track>/lessons/<lesson>", methods=["DELETE"])
@answers(409)
@learner_view
@login_required
@bp.response(200, EnrollmentSchema)
def uncomplete_lesson(track, lesson):
    """Mark a lesson not completed; a completed track stays completed."""
    view = service.uncomplete_lesson(current_user.id, track, lesson)
    answer = enrollment_dict(view)  # before the commit, which would expire what it reads
    db.session.commit()
    return _send(answer)


@bp.route("/admin/tracks/<slug>/stats", methods=["GET"])
@answers(403)
@login_required
@bp.response(200, TrackStatsSchema)
def track_stats(slug):
    """Enrollment and completion figures for one track (admins only)."""
    if not current_user.is_admin:
        raise Forbidden("Only administrators can see track statistics.")
    require_scope("admin")
    return {**service.track_stats(slug), "questions": checks.question_stats(slug)}
