"""The reminder sweep: who is due now, and the one mail a learner gets that local day.

At most one mail per learner per local day lists every stalled track (the stages and the hour
are ``schedule.py``'s). After stage 3 reminders pause until the learner is active again, which
starts a new idle spell from stage 1. The mail's context is built here, lesson titles included;
notifications only renders and delivers it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
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
from ..notifications.service import queue_mail
from ..timeutil import utcnow
from .models import Enrollment, EnrollmentStatus
from .schedule import QUIET_FROM, QUIET_UNTIL, STAGE_DAYS, UTC, aligned, due_at, send_hour
from .service import progress_of

log = logging.getLogger(__name__)

BATCH = 500
# The PostgreSQL advisory lock one sweep holds while it runs (any constant shared by all).
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
    """
    now = now or utcnow()
    with _sole_sweep(dry_run) as alone:
        if not alone:
            log.info("another reminder sweep is running; this one leaves the due learners to it")
            return []
        return _sweep(now, dry_run)


@contextmanager
def _sole_sweep(dry_run: bool) -> Iterator[bool]:
    """One sweep at a time (two beats, a CLI run beside beat): the others end at once.

    Row locks alone (SKIP LOCKED below) already keep two sweeps off the same enrollments, but
    they could split one learner's stalled tracks between them, and the second mail of the
    day waits for tomorrow: the learner got one mail listing only some of them. A session
    advisory lock, on a connection of its own (each batch commits and gives the session's
    back), keeps the whole pass to one sweep. PostgreSQL frees it if that connection dies.
    """
    if dry_run or not locks_rows():
        yield True
        return
    with db.engine.connect() as connection:
        alone = connection.scalar(select(func.pg_try_advisory_lock(SWEEP_LOCK)))
        connection.commit()
        try:
            yield alone
        finally:
            if alone:
                connection.scalar(select(func.pg_advisory_unlock(SWEEP_LOCK)))
                connection.commit()


def _sweep(now: datetime, dry_run: bool) -> list[Reminder]:
    sent: list[Reminder] = []
    done_users: set[int] = set()
    last_id = 0
    while True:
        query = due_query(now, last_id)
        if locks_rows() and not dry_run:
            # Two sweeps at once (two beats, a CLI run) never take the same rows.
            query = query.with_for_update(skip_locked=True, of=Enrollment)
        batch = list(db.session.scalars(query))
        if not batch:
            break
        last_id = batch[-1].id
        # Each learner's mail runs two statements (lesson titles, the outbox insert); with
        # autoflush each of them first wrote the enrollments changed so far one UPDATE at a
        # time. Nothing in the batch reads those changes back, so they go out together at
        # the commit (one executemany).
        with db.session.no_autoflush:
            sent += _sweep_batch(batch, now, dry_run, done_users)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    return sent


def _sweep_batch(batch: list[Enrollment], now: datetime, dry_run: bool,
                 done_users: set[int]) -> list[Reminder]:
    user_ids = {e.user_id for e in batch} - done_users
    done_users |= user_ids
    # A learner's due enrollments beyond this batch belong in the same mail: take them now.
    seen = {e.id for e in batch}
    extra = select(Enrollment).where(Enrollment.user_id.in_(user_ids),
                                     Enrollment.next_reminder_at <= now,
                                     Enrollment.status == EnrollmentStatus.active)
    if locks_rows() and not dry_run:
        # Rows another sweep holds stay with it; it mails them (or the next sweep does).
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
    tracks = {t.id: t for t in db.session.scalars(
        select(Track).where(Track.id.in_({e.track_id for e in batch})))}
    sent = []
    # Learners in id order: two sweeps writing the same learners' outbox keys then wait for
    # each other in one direction only, never in a circle (a deadlock, seen with two beats).
    for user_id, enrollments in sorted(by_user.items()):
        user = users[user_id]
        reminder = _remind(user, enrollments, now, progress, tracks, dry_run)
        if reminder is not None:
            sent.append(reminder)
    return sent


def _remind(user, enrollments, now, progress, tracks, dry_run) -> Reminder | None:
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
    # Every other stalled track of the learner goes in the same mail, due or not yet.
    for enrollment, stage in due:
        track, view = tracks[enrollment.track_id], progress[enrollment.id]
        reminder.items.append({
            "track_slug": track.slug, "track_title": track.title, "stage": stage,
            "percent": view.percent, "next_lesson": view.next_lesson,
            "idle_days": (now - enrollment.last_activity_at).days,
            # Pages, not JSON: the link opens the lesson in the learner's browser.
            "next_lesson_url": (f"{current_app.config['BASE_URL']}/tracks/{track.slug}"
                                f"/{view.next_lesson}" if view.next_lesson else
                                f"{current_app.config['BASE_URL']}/tracks/{track.slug}"),
        })
    if dry_run:
        return reminder
    if not _queue(user, reminder):
        # Already mailed this local day (another sweep won): try again tomorrow.
        for enrollment, _ in due:
            enrollment.next_reminder_at = aligned(user, now + timedelta(hours=1))
        return None
    for enrollment, stage in due:
        enrollment.reminder_stage = stage
        enrollment.next_reminder_at = due_at(user, enrollment.last_activity_at, stage + 1)
    return reminder


def _queue(user: User, reminder: Reminder) -> bool:
    message = queue_mail("reminder", user.email, reminder_mail(user, reminder.items),
                         key=f"reminder:{user.id}:{reminder.local_day}", user_id=user.id,
                         category="reminder")
    return message is not None


def reminder_mail(user: User, items: list[dict]) -> dict:
    """The reminder mail's context: stalled tracks, each with its percent and its next lesson."""
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
