"""Two beat processes (a deployment mistake the README warns against) for several periods:
reminder sweeps run side by side, and still no reminder and no mail goes out twice."""
from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from academy.learning.models import Enrollment
from academy.notifications.models import OutboxMessage
from academy.timeutil import utcnow
from tests.helpers.broker import queued
from tests.helpers.faults import Proc, idle_learners, outbox_status, send_task, settle, succeeded
from tests.helpers.services import wait_until

pytestmark = pytest.mark.faults(timeout=120)

# 520 enrollments: more than one sweep batch (500), and a learner's two tracks 260 ids apart,
# so a second sweep finds rows the first did not lock but mails about (see idle_learners).
LEARNERS = 260
PERIODS = 6
SWEEP = "academy.learning.send_reminders"
ENTRY = "Scheduler: Sending due task send-reminders"


def zone_at_a_daytime_hour() -> tuple[str, int]:
    """A time zone where it is now between 09:00 and 19:40 local, with its hour: learners
    there are due at this very hour, far from quiet hours and from the hour's end."""
    now = datetime.now(ZoneInfo("UTC"))
    for name in sorted(available_timezones()):
        if name.startswith(("Etc/", "posix", "right")):
            continue
        local = now.astimezone(ZoneInfo(name))
        if 9 <= local.hour <= 19 and local.minute <= 40:
            return name, local.hour
    raise AssertionError("no time zone is at a daytime hour now")  # never: zones span :00 and :30


def overlap(workers: list[Proc], task: str) -> int:
    """The most runs of ``task`` the worker logs show running at the same time."""
    pattern = re.compile(
        rf"\[([\d-]+ [\d:,]+): INFO/\S+\] Task {re.escape(task)}\[[0-9a-f-]+\] succeeded in ([\d.]+)s")
    events = []
    for worker in workers:
        for stamp, seconds in pattern.findall(worker.output()):
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            events += [(end - timedelta(seconds=float(seconds)), 1), (end, -1)]
    running = most = 0
    for _, step in sorted(events):
        running += step
        most = max(most, running)
    return most


def stalled_learners(app) -> None:
    """LEARNERS learners, each with two tracks idle for four days, due now at their local hour."""
    zone, hour = zone_at_a_daytime_hour()
    now = utcnow()
    with app.app_context():
        idle_learners(LEARNERS, ["basics", "advanced"], idle_since=now - timedelta(days=4),
                      due_at=now - timedelta(minutes=1), timezone=zone, reminder_hour=hour)


def failures(workers: list[Proc], task: str) -> list[str]:
    """The error line of every run of ``task`` that raised."""
    return [line for worker in workers for line in worker.output().splitlines()
            if re.search(rf"Task {re.escape(task)}\[[0-9a-f-]+\] raised", line)]


def test_two_beats_never_send_a_reminder_twice(app, catalog, database, procs, smtp_sink, record):
    server = smtp_sink.start()
    stalled_learners(app)
    workers = procs.workers(2, ACADEMY_MAIL_URL=server.url)
    started = time.monotonic()
    beats = procs.beats(2, period=1.0)
    # Several periods each, and at least until every learner's reminder is queued (a sweep
    # that fails leaves its learners to the next one).
    for beat in beats:
        beat.wait_for(ENTRY, count=PERIODS, timeout=30)
    settle(lambda: sum(outbox_status(database).values()) >= LEARNERS,
           lambda: (outbox_status(database), failures(workers, SWEEP)[-1:]), timeout=30)
    for beat in beats:
        beat.stop()
    ran = time.monotonic() - started

    settle(lambda: queued(app, "mail") == 0 and queued(app, "celery") == 0
           and set(outbox_status(database)) == {"sent"}
           and len(server.delivered) >= sum(outbox_status(database).values()),
           lambda: dict(queued=(queued(app, "celery"), queued(app, "mail")),
                        outbox=outbox_status(database), delivered=len(server.delivered)),
           timeout=60)
    # Whatever the beats sent last has run to the end (nothing left unacknowledged).
    wait_until(lambda: all(w.output().count("] received") == w.output().count("] succeeded")
                           + w.output().count("] raised") for w in workers), timeout=30)

    per_recipient = server.per_recipient()
    with database() as session:
        mails_per_learner = Counter(session.scalars(select(OutboxMessage.user_id)))
        stages = Counter(session.scalars(select(Enrollment.reminder_stage)))
    both = sum(message["Subject"] == "2 tracks are waiting for you" for message in server.messages())
    record(learners=LEARNERS, enrollments=2 * LEARNERS, mails_listing_both_tracks=both,
           sweeps_sent_per_beat=[beat.output().count(ENTRY) for beat in beats],
           sweeps_run=succeeded(workers, SWEEP), sweeps_failed=len(failures(workers, SWEEP)),
           sweeps_at_once=overlap(workers, SWEEP), seconds=round(ran, 1),
           reminder_mails=len(server.delivered),
           duplicates=len(server.delivered) - len(per_recipient))
    assert len(per_recipient) == LEARNERS and set(per_recipient.values()) == {1}
    assert len(mails_per_learner) == LEARNERS and set(mails_per_learner.values()) == {1}
    # Every stalled track was reminded once, in the one mail of its learner's day: one sweep
    # runs at a time (an advisory lock), so none is split between two sweeps.
    assert stages == {1: 2 * LEARNERS}, stages
    assert both == LEARNERS


def test_two_sweeps_at_once_both_finish_and_mail_every_learner(
        app, catalog, database, procs, smtp_sink, record):
    """What two beats (or beat and ``academy reminders run``) do at the same instant: both sweeps
    must end without error, and together mail every due learner once, now.

    The bug it found: a sweep locked its batch (SKIP LOCKED) but then read, and updated, the
    learner's due enrollments beyond the batch without a lock. When the other sweep had locked
    those, each waited for the other's rows: PostgreSQL aborted one with a deadlock, its whole
    batch was rolled back, and its learners waited for a later sweep (the next day if their
    local hour had passed by then). Nothing was sent twice. Since then one sweep runs at a
    time (an advisory lock): the second finds the first's lock and ends at once."""
    server = smtp_sink.start()
    stalled_learners(app)
    workers = procs.workers(2, ACADEMY_MAIL_URL=server.url)
    for _ in range(2):
        send_task(app, SWEEP)
    wait_until(lambda: succeeded(workers, SWEEP) + len(failures(workers, SWEEP)) == 2, timeout=60)
    wait_until(lambda: queued(app, "mail") == 0 and "pending" not in outbox_status(database)
               and "sending" not in outbox_status(database), timeout=30)

    errors = failures(workers, SWEEP)
    queued_now = sum(outbox_status(database).values())
    record(learners=LEARNERS, sweeps_failed=len(errors), mailed_now=queued_now,
           waiting_for_next_sweep=LEARNERS - queued_now,
           duplicates=sum(server.per_recipient().values()) - len(server.per_recipient()))
    assert set(server.per_recipient().values()) <= {1}  # never twice, even when one fails
    assert not errors, errors[0][:400]
    assert queued_now == LEARNERS
