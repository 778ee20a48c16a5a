"""``/api/v1/careers`` and ``/api/v1/tracks``: the public catalog, cacheable with ETags.

Each answer is built once per catalog version and kept as the bytes it is sent as
(``service.cached``); once kept, ``serve_prepared`` sends it ahead of Flask, before any
session, sign-in or rate-limit work (``http.PreparedAnswers``)."""
from flask import Flask, current_app, jsonify
from flask_smorest import Blueprint
from werkzeug.http import generate_etag

from ..http import PreparedAnswers, conditional
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


_ENDPOINTS = tuple(f"catalog.{view.__name__}" for view in
                   (list_careers, get_career, list_tracks, get_track, get_lesson))


def serve_prepared(app: Flask) -> None:
    """Send kept catalog answers from ``PreparedAnswers``, ahead of Flask.

    A path maps to the key its view keeps the answer under, the lists' query arguments at
    their defaults (read from the schemas, so that a bare ``/tracks`` is never given the
    answer of another page size)."""
    pages = PageArgs().load({})
    tracks = TrackQueryArgs().load({})
    list_keys = {"careers": ("careers", pages["page"], pages["per_page"]),
                 "tracks": ("tracks", tracks.get("career") or None, tracks["page"],
                            tracks["per_page"])}

    def lookup(path: str):
        # "/api/v1/tracks/<slug>/lessons/<lesson>" -> "", "api", "v1", "tracks", slug, …
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "api" or parts[2] != "v1" or parts[3] not in list_keys:
            return None
        kind, rest = parts[3], parts[4:]
        if not rest:
            key = list_keys[kind]
        elif len(rest) == 1:
            key = (kind[:-1], rest[0])  # ("track", slug), ("career", slug)
        elif kind == "tracks" and len(rest) == 3 and rest[1] == "lessons":
            key = ("lesson", rest[0], rest[2])
        else:
            return None
        return service.peek(app, key)

    app.extensions.setdefault("academy.catalog_cache", service.new_cache())
    app.wsgi_app = PreparedAnswers(app, lookup, _ENDPOINTS)
