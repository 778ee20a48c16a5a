"""Catalog rules: applying a content tree, and reading careers, tracks and lessons."""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from ..errors import NotFound
from ..extensions import db
from ..timeutil import utcnow
from .content import ContentTree, TrackSpec
from .models import BadgeClass, Career, Lesson, Track, career_badge_slug


@dataclass(frozen=True)
class Change:
    action: str  # added | changed | retired | restored
    kind: str  # career | track | lesson | badge
    name: str

    def __str__(self) -> str:
        return f"{self.action:<8} {self.kind:<6} {self.name}"


def _career_title(career: str) -> str:
    return " ".join(word.capitalize() for word in career.split("-"))


def sync(tree: ContentTree) -> list[Change]:
    """Make the database match a clean content tree; flushes, the caller commits once."""
    if not tree.ok:
        raise ValueError("refusing to sync a content tree with problems")
    invalidate()
    now = utcnow()
    changes: list[Change] = []
    tracks = {t.slug: t for t in db.session.scalars(select(Track))}
    lessons_by_track: dict[int, dict[str, Lesson]] = {}
    for lesson in db.session.scalars(select(Lesson)):
        lessons_by_track.setdefault(lesson.track_id, {})[lesson.slug] = lesson
    badges = {b.slug: b for b in db.session.scalars(select(BadgeClass))}
    if tree.careers is not None:
        changes += _sync_careers(tree.careers, now)

    for spec in tree.tracks:
        track, change = _row_for(Track, tracks, spec.slug, spec.content_hash, now)
        if change:
            changes.append(change)
            _apply_track(track, spec, now)
        db.session.flush()
        changes += _sync_lessons(track, spec, lessons_by_track.get(track.id, {}), now)
        changes += _sync_badge(badges, spec.slug, spec.badge["name"], spec.badge["description"],
                               spec.badge["criteria"], now, track_id=track.id)

    changes += _retire_absent("track", tracks, {spec.slug for spec in tree.tracks}, now)

    for career in sorted({spec.career for spec in tree.tracks}):
        title = _career_title(career)
        changes += _sync_badge(
            badges, career_badge_slug(career), f"{title}",
            f"Completed every HireKit Academy track of the {title} career.",
            f"Completed all tracks of the {title} career path.", now, career=career,
        )
    db.session.flush()
    invalidate()
    return changes


def _row_for(model, rows: dict, slug: str, content_hash: str, now):
    """The row of ``slug`` (a new one added when there is none) and what syncing it does, or None
    when it is current and unchanged."""
    row = rows.get(slug)
    kind = model.__tablename__
    if row is None:
        row = model(slug=slug, created_at=now)
        db.session.add(row)
        return row, Change("added", kind, slug)
    if row.retired_at is not None:
        return row, Change("restored", kind, slug)
    if row.content_hash != content_hash:
        return row, Change("changed", kind, slug)
    return row, None


def _retire_absent(kind: str, rows: dict, present: set[str], now) -> list[Change]:
    """Retire (never delete) the current rows whose slug the content no longer has."""
    changes = []
    for slug, row in rows.items():
        if slug not in present and row.retired_at is None:
            row.retired_at = now
            row.updated_at = now
            changes.append(Change("retired", kind, slug))
    return changes


def _sync_careers(specs, now) -> list[Change]:
    changes = []
    careers = {c.slug: c for c in db.session.scalars(select(Career))}
    for spec in specs:
        career, change = _row_for(Career, careers, spec.slug, spec.content_hash, now)
        if change is None:
            continue
        changes.append(change)
        career.title, career.summary, career.facts = spec.title, spec.summary, spec.facts
        career.content_hash = spec.content_hash
        career.retired_at = None
        career.updated_at = now
    return changes + _retire_absent("career", careers, {spec.slug for spec in specs}, now)


def _apply_track(track: Track, spec: TrackSpec, now) -> None:
    track.title = spec.title
    track.summary = spec.summary
    track.career = spec.career
    track.position = spec.position
    track.prerequisites = list(spec.prerequisites)
    track.content_hash = spec.content_hash
    track.retired_at = None
    track.updated_at = now


def _sync_lessons(track: Track, spec: TrackSpec, existing: dict[str, Lesson], now) -> list[Change]:
    changes = []
    listed = set()
    for position, lspec in enumerate(spec.lessons, start=1):
        listed.add(lspec.slug)
        lesson = existing.get(lspec.slug)
        name = f"{spec.slug}/{lspec.slug}"
        if lesson is None:
            lesson = Lesson(track_id=track.id, slug=lspec.slug, created_at=now)
            db.session.add(lesson)
            changes.append(Change("added", "lesson", name))
        elif lesson.retired_at is not None:
            changes.append(Change("restored", "lesson", name))
        elif lesson.content_hash != lspec.content_hash or lesson.position != position:
            changes.append(Change("changed", "lesson", name))
        else:
            continue
        lesson.title = lspec.title
        lesson.minutes = lspec.minutes
        lesson.project_hours = lspec.project_hours
        lesson.resources = lspec.resources
        lesson.body_markdown = lspec.body_markdown
        lesson.body_html = lspec.body_html
        lesson.content_hash = lspec.content_hash
        lesson.check = lspec.check
        lesson.evidence = lspec.evidence
        lesson.completion = ("check" if lspec.check else
                             "evidence" if lspec.evidence else "self")
        lesson.position = position
        lesson.retired_at = None
        lesson.updated_at = now
    for slug, lesson in existing.items():
        if slug not in listed and lesson.retired_at is None:
            # Retired, never deleted: completions of it stay, totals leave it out.
            lesson.retired_at = now
            lesson.position = None
            lesson.updated_at = now
            changes.append(Change("retired", "lesson", f"{spec.slug}/{slug}"))
    return changes


def _sync_badge(badges: dict[str, BadgeClass], slug, name, description, criteria, now,
                *, track_id=None, career=None) -> list[Change]:
    badge = badges.get(slug)
    values = {"name": name, "description": description, "criteria": criteria,
              "track_id": track_id, "career": career}
    if badge is None:
        badge = BadgeClass(slug=slug, created_at=now, updated_at=now, **values)
        db.session.add(badge)
        badges[slug] = badge
        return [Change("added", "badge", slug)]
    if any(getattr(badge, key) != value for key, value in values.items()):
        for key, value in values.items():
            setattr(badge, key, value)
        badge.updated_at = now
        return [Change("changed", "badge", slug)]
    return []


# -- reading -----------------------------------------------------------------------------------

def _track_totals():
    """Per-track count and minutes of current lessons, as a subquery."""
    return (
        select(Lesson.track_id, func.count().label("lesson_count"),
               func.coalesce(func.sum(Lesson.minutes), 0).label("estimated_minutes"),
               func.coalesce(func.sum(Lesson.project_hours), 0).label("project_hours"))
        .where(Lesson.retired_at.is_(None))
        .group_by(Lesson.track_id)
        .subquery()
    )


def _track_summaries(*criteria, page: int = 1, per_page: int | None = None) -> list[dict]:
    """GET /tracks items of the current tracks matching ``criteria``, by career and position."""
    totals = _track_totals()
    query = (
        select(Track, totals.c.lesson_count, totals.c.estimated_minutes, totals.c.project_hours,
               BadgeClass)
        .outerjoin(totals, totals.c.track_id == Track.id)
        .outerjoin(BadgeClass, BadgeClass.track_id == Track.id)
        .where(Track.retired_at.is_(None), *criteria)
        .order_by(Track.career, Track.position, Track.slug)
    )
    if per_page is not None:
        query = query.limit(per_page).offset((page - 1) * per_page)
    return [_track_summary(t, count, minutes, badge, hours)
            for t, count, minutes, hours, badge in db.session.execute(query).all()]


def list_tracks(career: str | None, page: int, per_page: int) -> tuple[list[dict], int]:
    """A page of GET /tracks; a career no current track joins lists nothing, without a query."""
    if career and career not in track_careers():
        return [], 0
    criteria = [Track.career == career] if career else []
    items = _track_summaries(*criteria, page=page, per_page=per_page)
    total = db.session.scalar(
        select(func.count()).select_from(Track).where(Track.retired_at.is_(None), *criteria))
    return items, total


def track_careers() -> frozenset[str]:
    """The careers that current tracks join, from the catalog cache."""
    return cached(("track-careers",), lambda: frozenset(db.session.scalars(
        select(Track.career).where(Track.retired_at.is_(None)).distinct())))


def _track_summary(track: Track, lesson_count, minutes, badge: BadgeClass | None,
                   project_hours=0) -> dict:
    return {
        "slug": track.slug,
        "title": track.title,
        "summary": track.summary,
        "career": track.career,
        "position": track.position,
        "lesson_count": lesson_count or 0,
        "estimated_minutes": minutes or 0,
        # Effort told apart: minutes of reading and exercises, hours of project work beyond them.
        "estimated_project_hours": float(project_hours or 0),
        "prerequisites": list(track.prerequisites or []),
        "badge": {"slug": badge.slug, "name": badge.name} if badge else None,
    }


def list_careers(page: int = 1, per_page: int = 20) -> tuple[list[dict], int]:
    """Current careers by title, each with how many current tracks join it."""
    counts = (select(Track.career, func.count().label("track_count"))
              .where(Track.retired_at.is_(None)).group_by(Track.career).subquery())
    rows = db.session.execute(
        select(Career.slug, Career.title, Career.summary, func.coalesce(counts.c.track_count, 0))
        .outerjoin(counts, counts.c.career == Career.slug)
        .where(Career.retired_at.is_(None))
        .order_by(Career.title, Career.slug)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    total = db.session.scalar(
        select(func.count()).select_from(Career).where(Career.retired_at.is_(None)))
    return [{"slug": slug, "title": title, "summary": summary, "track_count": track_count}
            for slug, title, summary, track_count in rows], total


def career_detail(slug: str) -> dict:
    """A current career's facts, plus its current tracks in order as GET /tracks lists them."""
    career = db.session.scalar(
        select(Career).where(Career.slug == slug, Career.retired_at.is_(None)))
    if career is None:
        raise NotFound(f"There is no career {slug!r}.")
    return {"slug": career.slug, "title": career.title, "summary": career.summary,
            **career.facts, "tracks": _track_summaries(Track.career == slug)}


def get_track(slug: str) -> Track:
    track = db.session.scalar(select(Track).where(Track.slug == slug, Track.retired_at.is_(None)))
    if track is None:
        raise NotFound(f"There is no track {slug!r}.")
    return track


def current_lessons(track_id: int) -> list[Lesson]:
    return list(db.session.scalars(
        select(Lesson).where(Lesson.track_id == track_id, Lesson.retired_at.is_(None))
        .order_by(Lesson.position)
    ))


def track_detail(slug: str) -> dict:
    track = get_track(slug)
    lessons = current_lessons(track.id)
    badge = db.session.scalar(select(BadgeClass).where(BadgeClass.track_id == track.id))
    detail = _track_summary(track, len(lessons), sum(lesson.minutes for lesson in lessons), badge,
                            sum(lesson.project_hours or 0 for lesson in lessons))
    detail["lessons"] = [
        {"slug": lesson.slug, "title": lesson.title, "minutes": lesson.minutes,
         "project_hours": lesson.project_hours, "position": lesson.position}
        for lesson in lessons
    ]
    return detail


def lesson_detail(track_slug: str, lesson_slug: str) -> dict:
    track = get_track(track_slug)
    lesson = db.session.scalar(
        select(Lesson).where(Lesson.track_id == track.id, Lesson.slug == lesson_slug,
                             Lesson.retired_at.is_(None))
    )
    if lesson is None:
        raise NotFound(f"Track {track_slug!r} has no lesson {lesson_slug!r}.")
    return {
        "slug": lesson.slug,
        "title": lesson.title,
        "minutes": lesson.minutes,
        "project_hours": lesson.project_hours,
        "position": lesson.position,
        "track": {"slug": track.slug, "title": track.title},
        "body_html": lesson.body_html,
        "resources": list(lesson.resources or []),
        "content_hash": lesson.content_hash,
        "completion": lesson.completion,
        # The questions and choices a learner answers; which are right stays on the server.
        "check": [{"id": q["id"], "prompt": q["prompt"],
                   "multiple": sum(c["correct"] for c in q["choices"]) > 1,
                   "choices": [{"id": c["id"], "text": c["text"]} for c in q["choices"]]}
                  for q in lesson.check] if lesson.check else None,
        "evidence": dict(lesson.evidence) if lesson.evidence else None,
    }


# -- cached answers ----------------------------------------------------------------------------
# The catalog changes only through ``content sync``, yet every learner reads it: answers built
# from it (bytes ready to send) are kept per process. An entry is dropped when this process
# writes a catalog table (the engine event below: a sync here, or any statement touching them)
# and when the catalog's version (newest change and row counts of its four tables) differs
# from the one it was built under, which is looked up at most every CACHE_SECONDS: another
# process's sync is seen within that long.
#
# Its keys come from request URLs, which anyone may vary, so it is bounded twice: an answer
# that names nothing in the catalog (a 404, an unknown career's empty list, a page past the
# end) is built each time and never kept (``Transient``), which bounds the keys by the content;
# and the least recently used entry goes once CACHE_MAX_ENTRIES are held, a hard limit whatever
# the content and the query strings.

CACHE_SECONDS = 1.0
CACHE_MAX_ENTRIES = 4096
_CATALOG_WRITE = re.compile(
    r'^\s*(?:(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(?:career|track|lesson|badge_class)"?[\s(]'
    r"|TRUNCATE\b[^;]*\b(?:career|track|lesson|badge_class)\b)", re.IGNORECASE)
_generation = 0  # bumped by every catalog write this process makes


def invalidate() -> None:
    """Forget every cached catalog answer in this process."""
    global _generation
    _generation += 1


@event.listens_for(Engine, "after_cursor_execute")
def _forget_on_catalog_write(conn, cursor, statement, parameters, context, executemany):
    if statement[:1] not in ("S", "s") and _CATALOG_WRITE.match(statement):
        invalidate()


@dataclass(frozen=True, slots=True)
class Transient:
    """A value ``cached`` hands back without keeping it: ``build`` returns it for an answer
    whose key names nothing in the catalog, since such keys are as many as clients care to send."""

    value: object


class _Cache:
    def __init__(self) -> None:
        self.values: OrderedDict = OrderedDict()  # least recently used first
        self.generation = -1
        self.version = None
        self.checked = float("-inf")
        self.lock = threading.Lock()


def new_cache() -> _Cache:
    return _Cache()


def _version() -> tuple:
    def stats(model):
        return (select(func.max(model.updated_at)).scalar_subquery(),
                select(func.count()).select_from(model).scalar_subquery())

    return tuple(db.session.execute(
        select(*stats(Track), *stats(Lesson), *stats(BadgeClass), *stats(Career))).one())


def cached(key, build: Callable[[], object]):
    """``build()``'s value for ``key``, from this process's catalog cache when still current.
    Only successful answers are kept: ``build`` raising (a 404) caches nothing, and neither does
    it returning a ``Transient``, whose value is returned. At most CACHE_MAX_ENTRIES are kept."""
    cache = current_app.extensions.get("academy.catalog_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("academy.catalog_cache", _Cache())
    now = time.monotonic()
    generation = _generation
    if cache.generation != generation or now - cache.checked > CACHE_SECONDS:
        version = _version()
        with cache.lock:
            if cache.generation != generation or cache.version != version:
                cache.values = OrderedDict()
            cache.generation, cache.version, cache.checked = generation, version, now
    values = cache.values
    with cache.lock:
        if key in values:
            values.move_to_end(key)
            return values[key]
    value = build()
    if isinstance(value, Transient):
        return value.value
    with cache.lock:
        # Kept only if nothing changed while it was built; otherwise the next call rebuilds it.
        if _generation == generation and cache.values is values:
            values[key] = value
            values.move_to_end(key)
            while len(values) > CACHE_MAX_ENTRIES:
                values.popitem(last=False)
    return value


def peek(app, key):
    """The value ``cached`` holds for ``key`` in ``app``'s catalog cache if it is current (no
    catalog write in this process since, its version checked within CACHE_SECONDS), else None.
    Needs no app context and sends no query: ``catalog.views`` serves prepared answers with it
    before Flask sees the request."""
    cache = app.extensions.get("academy.catalog_cache")
    if (cache is None or cache.generation != _generation
            or time.monotonic() - cache.checked > CACHE_SECONDS):
        return None
    with cache.lock:
        value = cache.values.get(key)
        if value is not None:
            cache.values.move_to_end(key)
    return value


def cache_size() -> int:
    """How many answers this process's catalog cache holds now."""
    cache = current_app.extensions.get("academy.catalog_cache")
    return len(cache.values) if cache is not None else 0


@dataclass(frozen=True, slots=True)
class LessonRef:
    """What progress and completion need of a current lesson."""

    id: int
    slug: str
    content_hash: str
    created_at: datetime  # when a sync first added it: later than a completion, it is new
    completion: str = "self"  # Lesson.completion: self, check or evidence


@dataclass(frozen=True, slots=True)
class TrackRef:
    """A current track as learning reads it: identity, title, its current lessons in order and
    the slugs of the tracks it builds on."""

    id: int
    slug: str
    title: str
    lessons: tuple[LessonRef, ...]
    prerequisites: tuple[str, ...] = ()


def current_lesson_refs(track_id: int) -> tuple[LessonRef, ...]:
    """The track's current lessons in order, from the catalog cache."""
    return cached(("lesson-refs", track_id), lambda: tuple(
        LessonRef(*row) for row in db.session.execute(
            select(Lesson.id, Lesson.slug, Lesson.content_hash, Lesson.created_at,
                   Lesson.completion)
            .where(Lesson.track_id == track_id, Lesson.retired_at.is_(None))
            .order_by(Lesson.position))))


def track_ref(slug: str) -> TrackRef:
    """A current track by slug, from the catalog cache; NotFound as ``get_track``."""
    def build() -> TrackRef:
        row = db.session.execute(
            select(Track.id, Track.slug, Track.title, Track.prerequisites).where(
                Track.slug == slug, Track.retired_at.is_(None))).first()
        if row is None:
            raise NotFound(f"There is no track {slug!r}.")
        return TrackRef(row.id, row.slug, row.title, current_lesson_refs(row.id),
                        tuple(row.prerequisites or ()))

    return cached(("track-ref", slug), build)
