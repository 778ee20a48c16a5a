"""``/api/v1/tracks``: the public catalog, cacheable with ETags."""
from flask import jsonify
from flask_smorest import Blueprint

from ..http import conditional
from . import service
from .schemas import LessonDetailSchema, TrackDetailSchema, TrackPageSchema, TrackQueryArgs

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/tracks", description="Tracks and lessons")


@blp.route("")
@blp.arguments(TrackQueryArgs, location="query", as_kwargs=True)
@blp.response(200, TrackPageSchema)
def list_tracks(career=None, page=1, per_page=20):
    """List current tracks, ordered by career and position."""
    items, total = service.list_tracks(career, page, per_page)
    return conditional(jsonify(TrackPageSchema().dump({"items": items, "total": total})))


@blp.route("/<slug>")
@blp.response(200, TrackDetailSchema)
def get_track(slug):
    """One track with its current lessons in order."""
    return conditional(jsonify(TrackDetailSchema().dump(service.track_detail(slug))))


@blp.route("/<slug>/lessons/<lesson>")
@blp.response(200, LessonDetailSchema)
def get_lesson(slug, lesson):
    """One lesson with its sanitised HTML body and resources."""
    return conditional(jsonify(LessonDetailSchema().dump(service.lesson_detail(slug, lesson))))
