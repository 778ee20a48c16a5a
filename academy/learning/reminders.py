"""The reminder sweep: who is due now, and the one mail a learner gets that local day.

At most one mail per learner per local day lists every stalled track (the stages and the hour
are ``schedule.py``'s). After stage 3 reminders pause until the learner is active again, which
starts a new idle spell from stage 1. The mail's context is built here, lesson titles included;
notifications only renders and delivers it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from ..accounts.models import User
from ..catalog.models import Lesson, Track
from ..dbutil import locks_rows
from ..extensions import db
from ..notifications.models import OutboxMessage
from ..notifications.service import Mail, queue_mails
from ..timeutil import utcnow
from .models import Enrollment, EnrollmentStatus
from .schedule import QUIET_FROM, QUIET_UNTIL, STAGE_DAYS, UTC, aligned, due_at, send_hour
from .service import progress_of

log = logging.getLogger(__name__)

BATCH = 500
# The PostgreSQL advisory lock each batch of a sweep holds for its transaction (any constant
# shared by all; see ``sweep``).
SWEEP_LOCK = 0x61636164656D79  # "academy"


@dataclass
class Reminder:
    """One learner's reminder mail: the stalled tracks it lists and the stage of each."""

    user_id: int
    email: str
    local_day: str
    items: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        tracks = ", ".join(f"{i['track_slug']} (stage {i['stage']}, {i['percent']}%)" for i in self.items)
        return f"{self.email} [{self.local_day}]: {tracks}"


def _stage_reached(enrollment: Enrollment, now: datetime) -> int:
    idle = now - enrollment.last_activity_at
    return sum(1 for days in STAGE_DAYS if idle >= timedelta(days=days))


def _eligible(user: User) -> bool:
    return (user.erased_at is None and user.email is not None and user.reminders_enabled
            and user.email_verified_at is not None)


def due_query(now: datetime, after_id: int = 0, limit: int = BATCH):
    """The next batch of due enrollments: served by the index on ``next_reminder_at``."""
    return (select(Enrollment)
            .where(Enrollment.next_reminder_at <= now, Enrollment.status == EnrollmentStatus.active,
                   Enrollment.id > after_id)
            .order_by(Enrollment.id).limit(limit))


def sweep(now: datetime | None = None, dry_run: bool = False) -> list[Reminder]:
    """One pass over the due enrollments; the same code beat runs every 15 minutes.

    Works in batches by id; each batch commits on its own, so a crash loses at most one batch
    of work, which the next sweep redoes (the outbox key keeps mail exactly-once).

    One sweep at a time (two beats, a CLI run beside beat): each batch's transaction first
    takes a transaction-level advisory lock, ``pg_try_advisory_xact_lock(SWEEP_LOCK)``, and a
    sweep that finds it taken ends at once, leaving the due learners to the one holding it.
    Row locks alone (SKIP LOCKED below) already keep two sweeps off the same enrollments, but
    they could split one learner's stalled tracks between them, and the second mail of the day
    waits for tomorrow. Batches of two sweeps are thus serialised, and each batch takes all of
    a learner's due enrollments, so no learner's tracks are split between two mails. The lock
    lives and dies with the batch's transaction: nothing outlives it on the server connection
    (a transaction-mode pooler hands the next transaction to another one), and a sweep killed
    mid-batch leaves no lock behind. SQLite, which locks the whole file, needs none.
    """
    now = now or utcnow()
    sent: list[Reminder] = []
    done_users: set[int] = set()
    catalog = _Catalog()
    guarded = locks_rows() and not dry_run
    last_id = 0
    try:
        while True:
            if guarded and not db.session.scalar(_LOCK):
                log.info("another reminder sweep is running; this one leaves the due learners to it")
                break
            query = due_query(now, last_id)
            if guarded:
                # Rows a learner's own request holds (a lesson completed right now) are left
                # for the next sweep rather than waited for.
                query = query.with_for_update(skip_locked=True, of=Enrollment)
            batch = list(db.session.scalars(query))
            if not batch:
                break
            last_id = batch[-1].id
            # Nothing in the batch reads the enrollments it changes back, so their UPDATEs go
            # out together at the commit (an executemany), not one before each statement.
            with db.session.no_autoflush:
                sent += _sweep_batch(batch, now, dry_run, done_users, catalog)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
    finally:
        # Ends the last transaction (the lock's, when no batch was left): never left open.
        db.session.rollback()
    return sent


_LOCK = select(func.pg_try_advisory_xact_lock(SWEEP_LOCK))


class _Catalog:
    """Track slugs and titles and lesson titles, read once per sweep for the tracks it meets.

    Plain values, not entities: a batch's commit expires entities, and reading one again
    would cost a query."""

    def __init__(self) -> None:
        self.tracks: dict[int, tuple[str, str]] = {}  # track id -> (slug, title)
        self.titles: dict[str, str] = {}  # "track-slug/lesson-slug" -> lesson title

    def load(self, track_ids: set[int]) -> None:
        """One statement for the tracks not met before in this sweep; none if all were."""
        missing = track_ids - self.tracks.keys()
        if not missing:
            return
        for track_id, slug, title, lesson_slug, lesson_title in db.session.execute(
                select(Track.id, Track.slug, Track.title, Lesson.slug, Lesson.title)
                .outerjoin(Lesson, Lesson.track_id == Track.id).where(Track.id.in_(missing))):
            self.tracks[track_id] = (slug, title)
            if lesson_slug is not None:
                self.titles[f"{slug}/{lesson_slug}"] = lesson_title


def _sweep_batch(batch: list[Enrollment], now: datetime, dry_run: bool,
                 done_users: set[int], catalog: _Catalog) -> list[Reminder]:
    """One batch: a fixed number of statements whatever its number of learners (reads of the
    learners, their other due enrollments and progress, one outbox INSERT for all their mails,
    one INSERT of those mails' unsubscribe tokens; the enrollments' UPDATEs at the commit)."""
    user_ids = {e.user_id for e in batch} - done_users
    done_users |= user_ids
    # A learner's due enrollments beyond this batch belong in the same mail: take them now.
    seen = {e.id for e in batch}
    extra = select(Enrollment).where(Enrollment.user_id.in_(user_ids),
                                     Enrollment.next_reminder_at <= now,
                                     Enrollment.status == EnrollmentStatus.active)
    if locks_rows() and not dry_run:
        extra = extra.with_for_update(skip_locked=True)
    batch = [e for e in batch if e.user_id in user_ids] + [
        e for e in db.session.scalars(extra) if e.id not in seen]
    if not batch:
        return []
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    by_user: dict[int, list[Enrollment]] = {}
    for enrollment in batch:
        by_user.setdefault(enrollment.user_id, []).append(enrollment)
    progress = progress_of(batch)
    catalog.load({e.track_id for e in batch})
    due = [reminder for user_id, enrollments in sorted(by_user.items())
           if (reminder := _due(users[user_id], enrollments, now, progress, catalog)) is not None]
    if dry_run or not due:
        return [reminder for reminder, _ in due]
    added = queue_mails([
        Mail("reminder", reminder.email, reminder_mail(users[reminder.user_id], reminder.items,
                                                       catalog.titles),
             key=_key(reminder), user_id=reminder.user_id, category="reminder")
        for reminder, _ in due])
    sent = []
    for reminder, stages in due:
        user = users[reminder.user_id]
        if _key(reminder) not in added:
            # Already mailed this local day (another sweep won): try again tomorrow.
            for enrollment, _ in stages:
                enrollment.next_reminder_at = aligned(user, now + timedelta(hours=1))
            continue
        for enrollment, stage in stages:
            enrollment.reminder_stage = stage
            enrollment.next_reminder_at = due_at(user, enrollment.last_activity_at, stage + 1)
        sent.append(reminder)
    return sent


def _key(reminder: Reminder) -> str:
    return f"reminder:{reminder.user_id}:{reminder.local_day}"


def _due(user, enrollments, now, progress, catalog) -> tuple[Reminder, list] | None:
    """The learner's reminder and the (enrollment, stage) pairs it mails, if one is due now;
    otherwise None, with each enrollment's next look moved on."""
    zone = ZoneInfo(user.timezone)
    local = now.replace(tzinfo=UTC).astimezone(zone)
    if not _eligible(user):
        # Not mailable now; look again tomorrow at the send hour (preferences may change).
        for enrollment in enrollments:
            enrollment.next_reminder_at = aligned(user, now + timedelta(hours=1))
        return None
    if local.hour != send_hour(user):
        # Due, but not at this local hour (a late sweep, a changed zone): wait for the next one.
        for enrollment in enrollments:
            enrollment.next_reminder_at = aligned(user, now)
        return None
    reminder = Reminder(user.id, user.email, local.date().isoformat())
    due = []
    for enrollment in enrollments:
        if enrollment.reminder_anchor != enrollment.last_activity_at:
            enrollment.reminder_stage, enrollment.reminder_anchor = 0, enrollment.last_activity_at
        stage = _stage_reached(enrollment, now)
        if stage <= enrollment.reminder_stage:
            enrollment.next_reminder_at = due_at(user, enrollment.last_activity_at,
                                                 enrollment.reminder_stage + 1)
            continue
        due.append((enrollment, stage))
    if not due:
        return None
    base_url = current_app.config["BASE_URL"]
    # Every other stalled track of the learner goes in the same mail, due or not yet.
    for enrollment, stage in due:
        (slug, title), view = catalog.tracks[enrollment.track_id], progress[enrollment.id]
        reminder.items.append({
            "track_slug": slug, "track_title": title, "stage": stage,
            "percent": view.percent, "next_lesson": view.next_lesson,
            "idle_days": (now - enrollment.last_activity_at).days,
            # Pages, not JSON: the link opens the lesson in the learner's browser.
            "next_lesson_url": (f"{base_url}/tracks/{slug}/{view.next_lesson}"
                                if view.next_lesson else f"{base_url}/tracks/{slug}"),
        })
    return reminder, due


def reminder_mail(user: User, items: list[dict], titles: dict[str, str] | None = None) -> dict:
    """The reminder mail's context: stalled tracks, each with its percent and its next lesson.

    ``titles`` ("track-slug/lesson-slug" -> title) as the sweep reads them once for a whole
    batch; without it they are read here."""
    if titles is None:
        titles = dict(db.session.execute(
            select(Track.slug + "/" + Lesson.slug, Lesson.title).join(Track)
            .where(Track.slug.in_([i["track_slug"] for i in items]))
        ).all())
    return {
        "display_name": user.display_name,
        "items": [{**item, "next_lesson_title": titles.get(f"{item['track_slug']}/{item['next_lesson']}",
                                                           item["next_lesson"])}
                  for item in items],
        "longest_idle": max(item["idle_days"] for item in items),
    }


# -- explaining a dry run ------------------------------------------------------------------------

EXPLAIN_LIMIT = 50


def explain(now: datetime, sent: list[Reminder], limit: int = EXPLAIN_LIMIT) -> tuple[list[str], int]:
    """Why each other learner with an active enrollment gets no reminder at ``now``.

    For ``reminders run --dry-run``: the first ``limit`` lines and how many learners there are
    in all. Three statements whatever the number of learners: the count, the first ``limit``
    learners' active enrollments, and which of them were mailed today."""
    skip = [reminder.user_id for reminder in sent]
    learners = (select(Enrollment.user_id).where(Enrollment.status == EnrollmentStatus.active,
                                                 Enrollment.user_id.not_in(skip)).distinct())
    total = db.session.scalar(select(func.count()).select_from(learners.subquery()))
    first = learners.order_by(Enrollment.user_id).limit(limit).scalar_subquery()
    by_user: dict[int, tuple[User, list[Enrollment]]] = {}
    for enrollment, user in db.session.execute(
            select(Enrollment, User).join(User, User.id == Enrollment.user_id)
            .where(Enrollment.status == EnrollmentStatus.active, Enrollment.user_id.in_(first))
            .order_by(User.id)):
        by_user.setdefault(user.id, (user, []))[1].append(enrollment)
    local = {user.id: now.replace(tzinfo=UTC).astimezone(ZoneInfo(user.timezone))
             for user, _ in by_user.values()}
    keys = {f"reminder:{user_id}:{when.date().isoformat()}": user_id for user_id, when in local.items()}
    mailed = {keys[key] for key in db.session.scalars(
        select(OutboxMessage.key).where(OutboxMessage.key.in_(list(keys))))}
    return [f"{user.email or f'learner {user.id}'}: "
            + _reason(user, enrollments, now, local[user.id], mailed=user.id in mailed)
            for user, enrollments in by_user.values()], total


def _reason(user: User, enrollments: list[Enrollment], now: datetime, local: datetime,
            mailed: bool) -> str:
    if user.erased_at is not None or user.email is None:
        return "account erased"
    if not user.reminders_enabled:
        return "reminder emails are turned off"
    if user.email_verified_at is None:
        return "address not confirmed yet"
    if mailed:
        return f"already mailed today ({local.date().isoformat()} local)"
    hour = send_hour(user)
    quiet = (f"; reminder hour {user.reminder_hour:02d}:00 is in the quiet hours "
             f"({QUIET_FROM:02d}:00-{QUIET_UNTIL:02d}:00), so {hour:02d}:00"
             if user.reminder_hour != hour else "")
    pending = [e.next_reminder_at for e in enrollments if e.next_reminder_at is not None]
    if not pending:
        return "reminders paused after the third; they restart when the learner is active"
    due = min(pending)
    if due > now:
        when = due.replace(tzinfo=UTC).astimezone(ZoneInfo(user.timezone))
        return f"not due yet: due {when:%Y-%m-%d %H:%M} local ({user.timezone}){quiet}"
    return (f"due, but sent at {hour:02d}:00 local and it is {local:%H:%M} there "
            f"({user.timezone}){quiet}")
