"""``/api/v1/careers`` and ``/api/v1/tracks``: the public catalog, cacheable with ETags."""
from flask import current_app, jsonify
from flask_smorest import Blueprint
from werkzeug.http import generate_etag

from ..http import conditional
from ..schemas import PageArgs
from . import service
from .schemas import (
    CareerDetailSchema,
    CareerPageSchema,
    LessonDetailSchema,
    TrackDetailSchema,
    TrackPageSchema,
    TrackQueryArgs,
)

bp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Careers, tracks and lessons")


def _answer(key, build, keep=None):
    """A 200 JSON answer whose bytes and ETag come from the catalog cache (``service.cached``);
    with ``keep``, only answers for which ``keep(answer)`` is true are kept there."""
    def render():
        answer = build()
        body = jsonify(answer).get_data()
        rendered = body, generate_etag(body)
        return rendered if keep is None or keep(answer) else service.Transient(rendered)

    body, etag = service.cached(key, render)
    return conditional(current_app.response_class(body, mimetype="application/json"), etag)


def _lists_something(page: dict) -> bool:
    """A list page worth keeping: an empty one (an unknown career, a page past the end) has as
    many URLs as anyone sends, so it is built each time instead."""
    return bool(page["items"])


@bp.route("/careers")
@bp.arguments(PageArgs(), location="query", as_kwargs=True)
@bp.response(200, CareerPageSchema)
def list_careers(page=1, per_page=20):
    """List current careers, with how many tracks each has."""
    def build():
        items, total = service.list_careers(page, per_page)
        return CareerPageSchema().dump({"items": items, "total": total})

    return _answer(("careers", page, per_page), build, keep=_lists_something)


@bp.route("/careers/<slug>")
@bp.response(200, CareerDetailSchema)
def get_career(slug):
    """One career's facts, with its current tracks in order as GET /tracks lists them."""
    return _answer(("career", slug), lambda: CareerDetailSchema().dump(service.career_detail(slug)))


@bp.route("/tracks")
@bp.arguments(TrackQueryArgs(), location="query", as_kwargs=True)
@bp.response(200, TrackPageSchema)
def list_tracks(career=None, page=1, per_page=20):
    """List current tracks, ordered by career and position."""
    def build():
        items, total = service.list_tracks(career, page, per_page)
        return TrackPageSchema().dump({"items": items, "total": total})

    return _answer(("tracks", career or None, page, per_page), build, keep=_lists_something)


@bp.route("/tracks/<slug>")
@bp.response(200, TrackDetailSchema)
def get_track(slug):
    """One track with its current lessons in order."""
    return _answer(("track", slug), lambda: TrackDetailSchema().dump(service.track_detail(slug)))


@bp.route("/tracks/<slug>/lessons/<lesson>")
@bp.response(200, LessonDetailSchema)
def get_lesson(slug, lesson):
    """One lesson with its sanitised HTML body and resources."""
    return _answer(("lesson", slug, lesson),
                   lambda: LessonDetailSchema().dump(service.lesson_detail(slug, lesson)))
