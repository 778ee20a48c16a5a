"""Inactivity reminders: the right stage at the right local hour, once, and only to who wants them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from academy.notifications.models import OutboxMessage
from tests.helpers.clients import signed_in
from tests.helpers.services import needs_postgres


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local(tz: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def active_learner(app, when: datetime, *, tracks=("basics",), **fields):
    """A learner whose last completed lesson, in every track given, was at ``when``."""
    learner = signed_in(app, bearer=True, **fields)
    with time_machine.travel(when, tick=False):
        for track in tracks:
            learner.enroll(track)
            first = {"basics": "intro", "advanced": "models"}[track]
            assert learner.complete(track, first).status_code == 200
    return learner


def sweep(app, when: datetime, *extra):
    iso = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    result = app.test_cli_runner().invoke(args=["academy", "reminders", "run", "--now", iso, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def reminders(database) -> list[OutboxMessage]:
    with database() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.category == "reminder")
                               .order_by(OutboxMessage.id)).all()
        session.expunge_all()
        return rows


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/Los_Angeles", "Europe/Berlin",
                                "Pacific/Kiritimati"])
def test_stages_arrive_at_the_local_reminder_hour(app, catalog, database, tz):
    start = local(tz, "2026-06-01T09:00")
    learner = active_learner(app, start, timezone=tz)
    # Three days later, the hour before the reminder hour: nothing yet.
    assert "0 reminder(s) sent" in sweep(app, local(tz, "2026-06-04T17:45"))
    out = sweep(app, local(tz, "2026-06-04T18:00"))
    assert "1 reminder(s) sent" in out and learner.email in out and "stage 1" in out
    # The sweep runs every 15 minutes: later runs in the same hour add nothing.
    assert "0 reminder(s) sent" in sweep(app, local(tz, "2026-06-04T18:15"))
    assert "0 reminder(s) sent" in sweep(app, local(tz, "2026-06-05T18:00"))
    assert "stage 2" in sweep(app, local(tz, "2026-06-08T18:00"))
    assert "stage 3" in sweep(app, local(tz, "2026-06-15T18:00"))
    # Paused after the third until the learner comes back.
    for day in ("2026-06-22", "2026-06-29", "2026-07-15"):
        assert "0 reminder(s) sent" in sweep(app, local(tz, f"{day}T18:00"))
    mails = reminders(database)
    assert len(mails) == 3
    assert {m.to_address for m in mails} == {learner.email}
    assert all(m.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in mails)


def test_across_a_dst_switch_it_is_still_the_local_hour(app, catalog, database):
    # Berlin leaves summer time on 2026-10-25: 18:00 local is 16:00Z before and 17:00Z after.
    learner = active_learner(app, utc("2026-10-23T08:00:00Z"), timezone="Europe/Berlin")
    assert "0 reminder(s) sent" in sweep(app, utc("2026-10-26T16:00:00Z"))  # 17:00 CET
    assert "1 reminder(s) sent" in sweep(app, utc("2026-10-26T17:00:00Z"))  # 18:00 CET
    # Los Angeles leaves summer time on 2026-11-01.
    west = active_learner(app, utc("2026-10-30T20:00:00Z"), timezone="America/Los_Angeles")
    assert "0 reminder(s) sent" in sweep(app, utc("2026-11-03T01:00:00Z"))  # 17:00 PST
    out = sweep(app, utc("2026-11-03T02:00:00Z"))  # 18:00 PST
    assert west.email in out and learner.email not in out


def test_activity_resets_the_stages(app, catalog, database):
    tz = "Asia/Kolkata"
    learner = active_learner(app, local(tz, "2026-03-01T10:00"), timezone=tz)
    assert "stage 1" in sweep(app, local(tz, "2026-03-04T18:00"))
    assert "stage 2" in sweep(app, local(tz, "2026-03-08T18:00"))
    with time_machine.travel(local(tz, "2026-03-09T12:00"), tick=False):
        assert learner.complete("basics", "numbers").status_code == 200
    assert "0 reminder(s) sent" in sweep(app, local(tz, "2026-03-11T18:00"))
    out = sweep(app, local(tz, "2026-03-12T18:00"))
    assert "stage 1" in out  # a new idle spell starts again from the first stage


def test_two_stalled_tracks_make_one_mail(app, catalog, database):
    tz = "Europe/Berlin"
    active_learner(app, local(tz, "2026-05-01T10:00"), tracks=("basics", "advanced"), timezone=tz)
    out = sweep(app, local(tz, "2026-05-04T18:00"))
    assert "1 reminder(s) sent" in out and "basics" in out and "advanced" in out
    mails = reminders(database)
    assert len(mails) == 1
    assert "2 tracks are waiting for you" == mails[0].subject
    assert "33% done" in mails[0].text_body and "50% done" in mails[0].text_body
    assert "http://academy.test/tracks/basics/numbers" in mails[0].text_body


def test_unverified_unsubscribed_dropped_and_completed_get_nothing(app, catalog, database):
    when = utc("2026-04-01T10:00:00Z")
    active_learner(app, when, verified=False)
    opted_out = active_learner(app, when)
    opted_out.patch("/api/v1/me", json={"email_preferences": {"reminders": False}})
    dropped = active_learner(app, when)
    dropped.delete("/api/v1/enrollments/basics")
    done = active_learner(app, when)
    with time_machine.travel(when, tick=False):
        done.complete("basics", "numbers")
        done.complete("basics", "plots")
    for day in range(4, 30):
        assert "0 reminder(s) sent" in sweep(app, utc(f"2026-04-{day:02d}T18:00:00Z"))
    assert reminders(database) == []


def test_never_in_the_quiet_hours(app, catalog, database):
    learner = active_learner(app, utc("2026-02-01T10:00:00Z"), reminder_hour=23)
    for hour in range(0, 24):
        out = sweep(app, utc(f"2026-02-04T{hour:02d}:00:00Z"))
        if learner.email in out:
            assert hour == 20  # 23 is in the quiet hours: the latest allowed hour is used
    assert len(reminders(database)) == 1


def test_changing_timezone_moves_the_reminder(app, catalog, database):
    learner = active_learner(app, utc("2026-08-01T10:00:00Z"))
    with time_machine.travel(utc("2026-08-02T10:00:00Z"), tick=False):
        learner.patch("/api/v1/me", json={"timezone": "Asia/Kolkata", "reminder_hour": 9})
    assert "0 reminder(s) sent" in sweep(app, utc("2026-08-04T18:00:00Z"))
    assert "1 reminder(s) sent" in sweep(app, local("Asia/Kolkata", "2026-08-05T09:00"))


def test_dry_run_changes_nothing(app, catalog, database):
    learner = active_learner(app, utc("2026-09-01T10:00:00Z"))
    out = sweep(app, utc("2026-09-04T18:00:00Z"), "--dry-run")
    assert f"would send {learner.email}" in out and "1 reminder(s) would be sent" in out
    assert reminders(database) == []
    assert "1 reminder(s) sent" in sweep(app, utc("2026-09-04T18:00:00Z"))


def test_mail_is_written_even_if_the_sweep_runs_late(app, catalog, database):
    # Beat was down at 18:00; at 21:30 it is quiet time, so the reminder waits for the next day.
    active_learner(app, utc("2026-07-01T10:00:00Z"))
    assert "0 reminder(s) sent" in sweep(app, utc("2026-07-04T21:30:00Z"))
    assert "1 reminder(s) sent" in sweep(app, utc("2026-07-05T18:00:00Z")
                                          + timedelta(minutes=5))


@needs_postgres
def test_a_sweep_that_finds_another_running_leaves_the_learners_to_it(app, catalog, database):
    from sqlalchemy import func

    from academy.extensions import db
    from academy.learning.reminders import SWEEP_LOCK

    active_learner(app, local("Europe/Berlin", "2026-06-01T12:00"), tracks=("basics", "advanced"),
                   timezone="Europe/Berlin")
    when = local("Europe/Berlin", "2026-06-04T18:00")
    # Another sweep in the middle of a batch: its transaction holds the sweep's lock.
    with app.app_context(), db.engine.connect() as other:
        assert other.scalar(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK)))
        assert "0 reminder(s) sent" in sweep(app, when)
        assert reminders(database) == []
        other.rollback()  # its batch ends, and the lock with it
    # Once it is done, the next sweep mails both stalled tracks, in one mail.
    assert "1 reminder(s) sent" in sweep(app, when)
    [mail] = reminders(database)
    assert mail.subject == "2 tracks are waiting for you"


def test_a_dry_run_says_why_each_other_learner_gets_nothing(app, catalog, database):
    late = active_learner(app, utc("2026-09-01T10:00:00Z"))
    quiet = active_learner(app, utc("2026-09-01T10:00:00Z"), reminder_hour=23)
    early = active_learner(app, utc("2026-09-03T10:00:00Z"))
    unconfirmed = active_learner(app, utc("2026-09-01T10:00:00Z"), verified=False)
    # An hour after the learners' 18:00: nothing is sent, and each line says why.
    out = sweep(app, utc("2026-09-04T19:00:00Z"), "--dry-run")
    assert "0 reminder(s) would be sent" in out
    assert f"skipped {late.email}: due, but sent at 18:00 local and it is 19:00 there (UTC)" in out
    assert (f"skipped {quiet.email}: not due yet: due 2026-09-04 20:00 local (UTC); reminder "
            "hour 23:00 is in the quiet hours (21:00-08:00), so 20:00") in out
    assert f"skipped {early.email}: not due yet: due 2026-09-06 18:00 local (UTC)" in out
    assert f"skipped {unconfirmed.email}: address not confirmed yet" in out
    # Once mailed, a second look the same evening says so.
    assert "1 reminder(s) sent" in sweep(app, utc("2026-09-04T18:00:00Z"))
    again = sweep(app, utc("2026-09-04T18:30:00Z"), "--dry-run")
    assert f"skipped {late.email}: already mailed today (2026-09-04 local)" in again
