"""Learning rules: enrollment, lesson progress, completion, streaks and track statistics."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from ..accounts.models import User
from ..catalog.models import Lesson, Track
from ..catalog.service import LessonRef, TrackRef, current_lesson_refs, get_track, track_ref
from ..dbutil import insert_ignore, locks_rows
from ..errors import Conflict, NotFound
from ..extensions import db
from ..signals import track_completed
from ..timeutil import local_date, utcnow
from . import schedule
from .models import Enrollment, EnrollmentStatus, LearningDay, LessonCompletion


@dataclass
class Progress:
    completed: int = 0
    total: int = 0
    percent: int = 0
    next_lesson: str | None = None
    completed_lessons: list[str] = field(default_factory=list)
    new_lessons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TrackName:
    id: int
    slug: str
    title: str


PREREQUISITES_UNFINISHED = "prerequisites_unfinished"


@dataclass(frozen=True, slots=True)
class EnrollmentWarning:
    """Something the learner should know about an enrollment that was allowed all the same."""

    code: str
    detail: str
    tracks: tuple[TrackName, ...] = ()


@dataclass
class EnrollmentView:
    enrollment: Enrollment  # or a row with its columns
    track: Track | TrackRef | TrackName
    progress: Progress
    # Worked out for one enrollment (enrolling, reading it); None where nothing asked for them.
    warnings: list[EnrollmentWarning] | None = None


# -- reading ---------------------------------------------------------------------------------

def _views(rows: list[tuple[Enrollment, Track | TrackRef]]) -> list[EnrollmentView]:
    """Progress for many enrollments in one query, whatever their number (the current lessons
    of each track come from the catalog cache)."""
    if not rows:
        return []
    lessons = {track_id: current_lesson_refs(track_id) for track_id in {track.id for _, track in rows}}
    done: dict[int, set[int]] = {}
    for enrollment_id, lesson_id in db.session.execute(
        select(LessonCompletion.enrollment_id, LessonCompletion.lesson_id)
        .where(LessonCompletion.enrollment_id.in_([e.id for e, _ in rows]))
    ):
        done.setdefault(enrollment_id, set()).add(lesson_id)
    return [EnrollmentView(e, t, _progress(e, lessons.get(t.id, ()), done.get(e.id, set())))
            for e, t in rows]


def _progress(enrollment: Enrollment, current: tuple[LessonRef, ...], done: set[int]) -> Progress:
    completed = [lesson.slug for lesson in current if lesson.id in done]
    todo = [lesson for lesson in current if lesson.id not in done]
    total = len(current)
    finished = enrollment.completed_at if enrollment.status == EnrollmentStatus.completed else None
    return Progress(
        completed=len(completed),
        total=total,
        # Current lessons only, so retired ones never push it past 100.
        percent=(100 * len(completed)) // total if total else 0,
        next_lesson=todo[0].slug if todo else None,
        completed_lessons=completed,
        # Added to the content after the track was completed; a lesson the learner marked not
        # done again was there when they finished, so it is to do but not new.
        new_lessons=[lesson.slug for lesson in todo
                     if finished is not None and lesson.created_at > finished],
    )


def progress_of(enrollments: list[Enrollment]) -> dict[int, Progress]:
    """Progress of many enrollments at once, by enrollment id."""
    tracks = {t.id: t for t in db.session.scalars(
        select(Track).where(Track.id.in_({e.track_id for e in enrollments})))}
    return {view.enrollment.id: view.progress
            for view in _views([(e, tracks[e.track_id]) for e in enrollments])}


def _ids(joined: str | None) -> set[int]:
    return {int(part) for part in joined.split(",")} if joined else set()


_e, _t, _lc = Enrollment.__table__.c, Track.__table__.c, LessonCompletion.__table__.c


def _completed_ids(enrollment_id):
    """The completed lesson ids of ``enrollment_id`` (a column or a parameter), comma-separated
    (``_ids`` reads them back): one scalar subquery, portable to SQLite and PostgreSQL."""
    return (select(func.aggregate_strings(cast(_lc.lesson_id, String), ","))
            .where(_lc.enrollment_id == enrollment_id).scalar_subquery())


# A page of the learner's enrollments with their tracks, each one's completed lesson ids
# (comma-separated, from a correlated subquery: progress rides along instead of costing a
# query of its own) and the total (a window count): one statement, built once, reading only
# the columns the answer shows. It is written against the tables, not the mapped classes: no
# entity is loaded, and the ORM's per-statement work was 40% of its cost. A page past the end
# asks for the total on its own.
_PAGE = (select(_e.id, _e.status, _e.enrolled_at, _e.completed_at, _e.last_activity_at,
                _t.id.label("track_id"), _t.slug.label("track_slug"), _t.title.label("track_title"),
                _completed_ids(_e.id).label("done"), func.count().over().label("total"))
         .select_from(Enrollment.__table__.join(Track.__table__, _t.id == _e.track_id))
         .where(_e.user_id == bindparam("user_id"))
         .order_by(_t.career, _t.position, _t.slug)
         .limit(bindparam("limit")).offset(bindparam("offset")))


def list_enrollments(user_id: int, page: int, per_page: int) -> tuple[list[EnrollmentView], int]:
    rows = db.session.execute(
        _PAGE, {"user_id": user_id, "limit": per_page, "offset": (page - 1) * per_page}).all()
    if rows:
        total = rows[0].total
    else:
        total = db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.user_id == user_id))
    return [EnrollmentView(row, track := TrackName(row.track_id, row.track_slug, row.track_title),
                           _progress(row, current_lesson_refs(track.id), _ids(row.done)))
            for row in rows], total


_ENROLLMENT = select(Enrollment).where(Enrollment.user_id == bindparam("user_id"),
                                       Enrollment.track_id == bindparam("track_id"))
_ENROLLMENT_LOCKED = _ENROLLMENT.with_for_update()


def _enrollment(user_id: int, track: Track | TrackRef, *, lock: bool = False) -> Enrollment | None:
    # Built once: this runs on every lesson a learner completes.
    query = _ENROLLMENT_LOCKED if lock and locks_rows() else _ENROLLMENT
    return db.session.scalar(query, {"user_id": user_id, "track_id": track.id})


class LockedEnrollment:
    """An enrollment read under its lock for one change and written back by ``save`` (one
    UPDATE of the columns that changed): what completing a lesson needs of it, as a Core row.
    Loading the ``Enrollment`` entity and flushing it through the unit of work were a third of
    a PUT's time; this has the attributes that progress, reminders and answers read."""

    COLUMNS = ("id", "status", "enrolled_at", "completed_at", "last_activity_at",
               "reminder_stage", "reminder_anchor", "next_reminder_at")
    _CHANGING = COLUMNS[1:2] + COLUMNS[3:]
    __slots__ = (*COLUMNS, "_read")

    def __init__(self, row) -> None:
        for name, value in zip(self.COLUMNS, row, strict=True):
            setattr(self, name, value)
        self._read = tuple(row)

    def save(self) -> None:
        """One UPDATE of what changed since it was read (nothing when nothing did)."""
        was = dict(zip(self.COLUMNS, self._read, strict=True))
        changed = {name: getattr(self, name) for name in self._CHANGING
                   if getattr(self, name) != was[name]}
        if changed:
            db.session.execute(_enrollment_update(tuple(sorted(changed))),
                               {"enrollment_id": self.id, **changed})
            self._read = tuple(getattr(self, name) for name in self.COLUMNS)


_LOCKED_ROW = (select(*(_e[name] for name in LockedEnrollment.COLUMNS))
               .where(_e.user_id == bindparam("user_id"), _e.track_id == bindparam("track_id")))
_LOCKED_ROW_FOR_UPDATE = _LOCKED_ROW.with_for_update()
_UPDATES: dict[tuple[str, ...], object] = {}


def _enrollment_update(names: tuple[str, ...]):
    statement = _UPDATES.get(names)
    if statement is None:
        statement = _UPDATES[names] = (
            update(Enrollment.__table__).where(_e.id == bindparam("enrollment_id"))
            .values({name: bindparam(name, type_=_e[name].type) for name in names}))
    return statement


def _locked_row(user_id: int, track: TrackRef) -> LockedEnrollment | None:
    query = _LOCKED_ROW_FOR_UPDATE if locks_rows() else _LOCKED_ROW
    row = db.session.execute(query, {"user_id": user_id, "track_id": track.id}).first()
    return LockedEnrollment(row) if row is not None else None


def get_enrollment(user_id: int, track_slug: str) -> EnrollmentView:
    """One enrollment with its progress and its warnings."""
    track = track_ref(track_slug)
    enrollment = _enrollment(user_id, track)
    if enrollment is None:
        raise NotFound(f"You are not enrolled in {track_slug!r}.")
    view = _views([(enrollment, track)])[0]
    view.warnings = enrollment_warnings(user_id, track.prerequisites)
    return view


def unfinished_prerequisites(user_id: int, prerequisites: Iterable[str]) -> tuple[TrackName, ...]:
    """The current tracks among ``prerequisites`` (slugs) that the learner has not completed
    (completed once counts, dropped since or not), in the order given: one statement whatever
    their number, none when there are none."""
    slugs = list(dict.fromkeys(prerequisites))
    if not slugs:
        return ()
    completed = (select(Enrollment.id)
                 .where(Enrollment.user_id == user_id, Enrollment.track_id == Track.id,
                        Enrollment.completed_at.is_not(None))
                 .exists())
    unfinished = {row.slug: TrackName(*row) for row in db.session.execute(
        select(Track.id, Track.slug, Track.title)
        .where(Track.slug.in_(slugs), Track.retired_at.is_(None), ~completed))}
    return tuple(unfinished[slug] for slug in slugs if slug in unfinished)


def _titles(tracks: tuple[TrackName, ...]) -> str:
    titles = [track.title for track in tracks]
    return titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"


def enrollment_warnings(user_id: int, prerequisites: Iterable[str]) -> list[EnrollmentWarning]:
    """What to tell a learner enrolled in a track with these prerequisites: enrolling before
    finishing them is allowed, and said."""
    unfinished = unfinished_prerequisites(user_id, prerequisites)
    if not unfinished:
        return []
    which = "it" if len(unfinished) == 1 else "them"
    return [EnrollmentWarning(
        PREREQUISITES_UNFINISHED,
        f"This track builds on {_titles(unfinished)}, which you have not completed yet. You can "
        f"take it all the same; finishing {which} first may make it easier.",
        unfinished)]


# -- writing ---------------------------------------------------------------------------------

def enroll(user_id: int, track_slug: str) -> tuple[EnrollmentView, bool]:
    """Enroll, or reactivate a dropped enrollment with its progress; True when it is new."""
    track = get_track(track_slug)
    now = utcnow()
    created = insert_ignore(Enrollment, {
        "user_id": user_id, "track_id": track.id, "status": EnrollmentStatus.active,
        "enrolled_at": now, "last_activity_at": now,
    }, ["user_id", "track_id"])
    enrollment = _enrollment(user_id, track, lock=True)
    if enrollment.status == EnrollmentStatus.dropped:
        enrollment.status = EnrollmentStatus.completed if enrollment.completed_at else EnrollmentStatus.active
        enrollment.dropped_at = None
        enrollment.last_activity_at = now
    if created or enrollment.last_activity_at == now:
        schedule.reschedule(enrollment, db.session.get(User, user_id))
    view = _views([(enrollment, track)])[0]
    view.warnings = enrollment_warnings(user_id, track.prerequisites or ())
    return view, created


def drop(user_id: int, track_slug: str) -> None:
    track = get_track(track_slug)
    enrollment = _enrollment(user_id, track, lock=True)
    if enrollment is None:
        raise NotFound(f"You are not enrolled in {track_slug!r}.")
    if enrollment.status != EnrollmentStatus.dropped:
        enrollment.status = EnrollmentStatus.dropped
        enrollment.dropped_at = utcnow()
        enrollment.next_reminder_at = None


def active_enrollment_and_lesson(user_id: int, track_slug: str, lesson_slug: str, *,
                                 row: bool = False):
    """(track, lesson, the learner's enrollment locked), or NotFound / Conflict saying why not.
    The enrollment is an ``Enrollment`` entity, or with ``row`` a ``LockedEnrollment`` that the
    caller saves."""
    track = track_ref(track_slug)
    lesson = next((lesson for lesson in track.lessons if lesson.slug == lesson_slug), None)
    if lesson is None:
        raise NotFound(f"Track {track_slug!r} has no lesson {lesson_slug!r}.")
    # Locked, so two requests finishing the last two lessons at once both see the whole count.
    enrollment = _locked_row(user_id, track) if row else _enrollment(user_id, track, lock=True)
    if enrollment is None:
        raise Conflict(f"You are not enrolled in {track_slug!r}; enroll first with "
                       "POST /api/v1/enrollments.")
    if enrollment.status == EnrollmentStatus.dropped:
        raise Conflict(f"You dropped {track_slug!r}; enroll again to continue where you left off.")
    return track, lesson, enrollment


_DONE = select(_lc.lesson_id).where(_lc.enrollment_id == bindparam("enrollment_id"))


def _completion_statement():
    """PostgreSQL: the completion, the learning day and the completed lessons read back, in one
    round trip (the PUT's own steps, in one statement, two fewer than apart).

    The two INSERTs are data-modifying CTEs (always run to completion; the day's only if the
    completion was new). The main SELECT takes its snapshot when the statement starts, after
    the enrollment's lock was granted, so it sees every completion committed before; it cannot
    see the row its own CTE inserts, which the caller adds.
    """
    completion = (postgresql.insert(LessonCompletion.__table__)
                  .values(enrollment_id=bindparam("enrollment_id"), lesson_id=bindparam("lesson_id"),
                          completed_at=bindparam("completed_at", type_=DateTime()),
                          content_hash=bindparam("content_hash"))
                  .on_conflict_do_nothing(index_elements=["enrollment_id", "lesson_id"])
                  .returning(_lc.lesson_id).cte("completion"))
    day = (postgresql.insert(LearningDay.__table__)
           .from_select(["user_id", "day"], select(bindparam("user_id", type_=Integer()),
                                                   bindparam("day", type_=Date()))
                        .select_from(completion))
           .on_conflict_do_nothing(index_elements=["user_id", "day"]).cte("day"))
    return select(
        select(func.count()).select_from(completion).scalar_subquery().label("inserted"),
        _completed_ids(bindparam("enrollment_id")).label("done"),
    ).add_cte(day)


_COMPLETE = _completion_statement()


def _complete(user_id: int, enrollment_id: int, lesson: LessonRef, now: datetime,
              learner) -> tuple[bool, set[int]]:
    """Record the completion (and the learning day, the first time that local day); True when
    it is new, and the enrollment's completed lesson ids, read under its lock."""
    if locks_rows():
        row = db.session.execute(_COMPLETE, {
            "enrollment_id": enrollment_id, "lesson_id": lesson.id, "completed_at": now,
            "content_hash": lesson.content_hash, "user_id": user_id,
            "day": local_date(now, learner.timezone)}).one()
        done = _ids(row.done)
        if row.inserted:
            done.add(lesson.id)
        return bool(row.inserted), done
    inserted = insert_ignore(LessonCompletion, {
        "enrollment_id": enrollment_id, "lesson_id": lesson.id, "completed_at": now,
        "content_hash": lesson.content_hash,
    }, ["enrollment_id", "lesson_id"])
    if inserted:
        insert_ignore(LearningDay, {"user_id": user_id, "day": local_date(now, learner.timezone)},
                      ["user_id", "day"])
    # Read after the insert, which took SQLite's write lock: a request finishing another
    # lesson at the same moment has committed by now.
    return inserted, set(db.session.scalars(_DONE, {"enrollment_id": enrollment_id}))


# How each kind of lesson is completed: the endpoint after /api/v1/enrollments/<t>/lessons/<l>
# and the body it takes. Every answer that sends a learner to the right one reads it here.
COMPLETED_BY = {
    "self": ("PUT", "", '{"status": "completed"}', "by marking it completed"),
    "check": ("POST", "/attempts", '{"answers": {"<question id>": ["<choice id>"]}}',
              "by passing its check"),
    "evidence": ("POST", "/evidence", '{"url": "…", "note": "…"}',
                 "by submitting the link it asks for"),
}


def how_completed(kind: str, track_slug: str, lesson_slug: str) -> tuple[str, str]:
    """(the sentence saying how a lesson of ``kind`` is completed, its endpoint's path)."""
    method, suffix, body, how = COMPLETED_BY[kind]
    path = f"/api/v1/enrollments/{track_slug}/lessons/{lesson_slug}{suffix}"
    return f"This lesson is completed {how}: {method} {path} with {body}.", path


def complete_lesson(user_id: int, track_slug: str, lesson_slug: str,
                    now: datetime | None = None, learner=None) -> EnrollmentView:
    """Mark a lesson done (idempotent); finishing every current lesson completes the track.

    Only for lessons the learner completes by saying so: one with a check or evidence answers
    409 naming the endpoint that completes it. ``learner``: the signed-in ``User`` (or
    ``accounts.auth.Learner``), when the caller has it: its time zone and reminder hour."""
    track, lesson, enrollment = active_enrollment_and_lesson(user_id, track_slug, lesson_slug,
                                                             row=True)
    if lesson.completion != "self":
        sentence, path = how_completed(lesson.completion, track_slug, lesson_slug)
        raise Conflict(sentence, errors={"endpoint": [path]})
    view = record_completion(user_id, track, lesson, enrollment, now or utcnow(), learner)
    enrollment.save()
    return view


def record_completion(user_id: int, track: TrackRef, lesson: LessonRef, enrollment: Enrollment,
                      now: datetime, learner=None) -> EnrollmentView:
    """Complete ``lesson`` for the locked ``enrollment``: the one path every way of completing
    a lesson takes (a PUT, a passed check, accepted evidence), with streak, track completion,
    badge and reminders. ``learner`` as for ``complete_lesson``; loaded when not given."""
    if learner is None:
        learner = db.session.get(User, user_id)
    # Under the enrollment's lock, so the last two lessons finished at once complete the track.
    inserted, done = _complete(user_id, enrollment.id, lesson, now, learner)
    # The enrollment changes only now, after its last read: one UPDATE (at commit for an
    # entity, ``save`` for a ``LockedEnrollment``), not one per autoflush.
    if inserted:
        enrollment.last_activity_at = now
    progress = _progress(enrollment, track.lessons, done)
    if (enrollment.status == EnrollmentStatus.active and progress.total
            and progress.completed == progress.total):
        enrollment.status = EnrollmentStatus.completed
        enrollment.completed_at = now
        progress.new_lessons = []
        # Badges award it once this transaction commits (academy.badges.receivers).
        track_completed.send(enrollment.id)
    if inserted:
        # Activity starts a new idle spell; a completed track is never reminded.
        schedule.reschedule(enrollment, learner)
    return EnrollmentView(enrollment, track, progress)


def view_of(enrollment: Enrollment, track: TrackRef) -> EnrollmentView:
    """The enrollment as the API answers it, progress read now."""
    return _views([(enrollment, track)])[0]


def uncomplete_lesson(user_id: int, track_slug: str, lesson_slug: str) -> EnrollmentView:
    """Mark a lesson not done; a completed track stays completed."""
    track, lesson, enrollment = active_enrollment_and_lesson(user_id, track_slug, lesson_slug)
    db.session.execute(delete(LessonCompletion).where(
        LessonCompletion.enrollment_id == enrollment.id, LessonCompletion.lesson_id == lesson.id))
    return _views([(enrollment, track)])[0]


# -- streaks ---------------------------------------------------------------------------------

def streak(user: User, now: datetime | None = None) -> dict:
    """Consecutive local days with a completed lesson: the run still alive and the longest."""
    days = list(db.session.scalars(
        select(LearningDay.day).where(LearningDay.user_id == user.id).order_by(LearningDay.day)
    ))
    today = local_date(now or utcnow(), user.timezone)
    return {"current_days": _current_run(days, today), "longest_days": _longest_run(days)}


def _longest_run(days: list[date]) -> int:
    longest = run = 0
    previous = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return longest


def _current_run(days: list[date], today: date) -> int:
    # A run is alive until the learner misses a whole local day: yesterday still counts.
    if not days or today - days[-1] > timedelta(days=1):
        return 0
    run = 1
    for later, earlier in zip(reversed(days), list(reversed(days))[1:]):
        if later - earlier != timedelta(days=1):
            break
        run += 1
    return run


def erase_learner(user_id: int) -> None:
    """Forget when the learner studied; anonymous enrollment rows stay for the counts."""
    db.session.execute(delete(LearningDay).where(LearningDay.user_id == user_id))


# -- statistics --------------------------------------------------------------------------------

def _median_days_to_complete(track_id: int) -> float | None:
    """The median time from enrolling to completing, computed in the database: at a million
    completions, a million rows read into Python for one number was the admin page's cost.

    PostgreSQL: ``percentile_cont(0.5)`` over the durations. SQLite, which has no percentiles:
    the middle one or two durations by ORDER BY … LIMIT/OFFSET, averaged."""
    done = and_(Enrollment.track_id == track_id, Enrollment.completed_at.is_not(None))
    if db.session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", Enrollment.completed_at - Enrollment.enrolled_at)
        median = db.session.scalar(select(
            func.percentile_cont(0.5).within_group(seconds)).where(done))
        return float(median) / 86400 if median is not None else None
    count = db.session.scalar(select(func.count()).select_from(Enrollment).where(done))
    if not count:
        return None
    days = func.julianday(Enrollment.completed_at) - func.julianday(Enrollment.enrolled_at)
    middle = db.session.scalars(select(days).where(done).order_by(days)
                                .limit(2 - count % 2).offset((count - 1) // 2)).all()
    return sum(middle) / len(middle)


def track_stats(track_slug: str) -> dict:
    track = get_track(track_slug)
    counts = dict(db.session.execute(
        select(Enrollment.status, func.count()).where(Enrollment.track_id == track.id)
        .group_by(Enrollment.status)
    ).all())
    enrolled = sum(counts.values())
    completed = counts.get(EnrollmentStatus.completed, 0)
    median_days = _median_days_to_complete(track.id)
    per_lesson = dict(db.session.execute(
        select(LessonCompletion.lesson_id, func.count())
        .join(Lesson, Lesson.id == LessonCompletion.lesson_id)
        .where(Lesson.track_id == track.id).group_by(LessonCompletion.lesson_id)
    ).all())
    lessons = db.session.scalars(select(Lesson).where(
        Lesson.track_id == track.id, Lesson.retired_at.is_(None)).order_by(Lesson.position))
    return {
        "track": track.slug,
        "enrolled": enrolled,
        "active": counts.get(EnrollmentStatus.active, 0),
        "completed": completed,
        "dropped": counts.get(EnrollmentStatus.dropped, 0),
        "completion_rate": round(completed / enrolled, 4) if enrolled else 0.0,
        "median_days_to_complete": round(median_days, 2) if median_days is not None else None,
        "lessons": [{"slug": lesson.slug, "completed": per_lesson.get(lesson.id, 0)}
                    for lesson in lessons],
    }
