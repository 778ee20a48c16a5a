"""Reminder sweeps side by side (two beat processes, a deployment mistake the README warns
against, or beat and ``academy reminders run``) send no reminder and no mail twice; a sweep
killed mid-batch, behind a transaction-mode PgBouncer, leaves nothing that stops the next."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
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
    # Every stalled track was reminded once, in the one mail of its learner's day: batches of
    # two sweeps never run at once (each takes a transaction-level advisory lock, and a sweep
    # that finds it taken ends), so none is split between two sweeps.
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
    local hour had passed by then). Nothing was sent twice. Since then each batch's transaction
    takes the sweep's advisory lock first (``pg_try_advisory_xact_lock``): a sweep that finds
    the other's batch holding it ends at once and leaves the due learners to it."""
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


# -- a sweep killed mid-batch, behind PgBouncer in transaction mode ------------------------------

KILLED_LEARNERS = 600  # two sweep batches
SWEEP_AT = datetime(2026, 6, 4, 18, 0)  # the learners' reminder hour, 18:00 UTC


def pgbouncer(procs, database_url: str) -> str:
    """Our own PgBouncer (Debian's 1.18) in ``pool_mode = transaction`` in front of the test
    database, handing out its server connections in turn (``server_round_robin``) as a busy
    pooler does; returns its URL."""
    import shutil

    from sqlalchemy.engine import make_url

    from tests.helpers.mail import free_port

    if shutil.which("pgbouncer") is None:
        pytest.skip("needs PgBouncer: apt-get install pgbouncer (CI installs it)")
    url = make_url(database_url)
    folder = tempfile.mkdtemp(prefix="faults-pgbouncer-")
    procs.scratch.append(folder)
    os.chmod(folder, 0o755)  # PgBouncer started as root runs as postgres and reads it as such
    port = free_port()
    user = url.username or "postgres"
    server = f"host={url.host or '/var/run/postgresql'} port={url.port or 5432}"
    if url.password:
        server += f" password={url.password}"
    Path(folder, "users.txt").write_text(f'"{user}" ""\n')
    Path(folder, "pgbouncer.ini").write_text(f"""[databases]
* = {server}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
server_round_robin = 1
default_pool_size = 6
""")
    run_as = ["-u", "postgres"] if os.geteuid() == 0 else []  # it refuses to run as root
    proc = procs.spawn("pgbouncer", ["pgbouncer", *run_as, f"{folder}/pgbouncer.ini"], dict(os.environ))
    proc.wait_for("process up", timeout=15)
    return url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def connect(url: str, autocommit: bool = True):
    import psycopg
    from sqlalchemy.engine import make_url

    # Never a server-side prepared statement: behind a pooler it would outlive this client.
    return psycopg.connect(make_url(url).set(drivername="postgresql")
                           .render_as_string(hide_password=False), autocommit=autocommit,
                           prepare_threshold=None)


def sweep_locks(direct) -> int:
    """Sessions of PostgreSQL holding the sweep's advisory lock, as an operator would look."""
    from academy.learning.reminders import SWEEP_LOCK

    return direct.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid = %s AND objid = %s AND objsubid = 1",
        (SWEEP_LOCK >> 32, SWEEP_LOCK & 0xFFFFFFFF)).fetchone()[0]


def busy_inserts(direct) -> int:
    """Backends (not ours) running an outbox INSERT, or idle in its transaction."""
    return direct.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        " AND datname = current_database() AND state <> 'idle'"
        " AND query LIKE 'INSERT INTO outbox_message%%'").fetchone()[0]


@pytest.mark.skipif(
    os.environ.get("ACADEMY_DATABASE_POOLER") == "transaction",
    reason="starts its own PgBouncer in front of the suite's server and watches pg_locks "
           "there directly; the pooled pass would put a second pooler between (it runs in the "
           "direct pass, PgBouncer included)")
def test_a_sweep_killed_mid_batch_behind_pgbouncer_leaves_no_lock_and_the_next_one_sends(
        app, catalog, database, database_url, procs, record):
    """``academy reminders run`` SIGKILLed in the middle of a batch, through PgBouncer in
    transaction mode: the next sweep, a moment later, mails every due learner once.

    The bug it found: the sweep's lock was a session-level ``pg_try_advisory_lock``. Behind a
    transaction pooler it stayed with whichever server connection had taken it, which the
    pooler kept and handed to other clients after the sweep died: no later sweep could get
    it on another server connection, so no learner heard from us again until that connection
    was recycled (and one landing on the same connection re-entered the lock)."""
    bouncer = pgbouncer(procs, database_url)
    with app.app_context():
        learners = idle_learners(KILLED_LEARNERS, ["basics"], idle_since=SWEEP_AT - timedelta(days=4),
                                 due_at=SWEEP_AT - timedelta(minutes=1), timezone="UTC",
                                 reminder_hour=SWEEP_AT.hour)
    # Server connections for the pooler to rotate through, as a busy deployment has.
    warm = [connect(bouncer, autocommit=False) for _ in range(3)]
    for conn in warm:
        conn.execute("SELECT 1")
    for conn in warm:
        conn.commit()
        conn.close()
    direct = connect(database_url)
    # Hold the sweep in its first batch: an uncommitted outbox row with the key of one of its
    # learners' mail makes the batch's INSERT wait (the batch holds the sweep's lock meanwhile).
    blocker = connect(database_url, autocommit=False)
    try:
        blocker.execute(
            "INSERT INTO outbox_message (key, user_id, to_address, category, template, subject,"
            " text_body, html_body, headers, message_id, status, attempts, next_attempt_at,"
            " created_at) VALUES (%s, %s, 'x@example.org', 'reminder', 'reminder', '', '', '',"
            " '{}', '<blocker@example.org>', 'cancelled', 0, now(), now())",
            (f"reminder:{learners[99]}:{SWEEP_AT.date().isoformat()}", learners[99]))
        env = procs.env(ACADEMY_DATABASE_URL=bouncer, ACADEMY_DATABASE_POOLER="transaction")
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "academy", "reminders", "run",
                   "--now", SWEEP_AT.isoformat() + "Z"]
        first = procs.spawn("sweep", command, env)
        settle(lambda: busy_inserts(direct) == 1 and sweep_locks(direct) == 1,
               lambda: (busy_inserts(direct), sweep_locks(direct), first.output()[-2000:]), timeout=60)
        first.kill(signal.SIGKILL)
        blocker.rollback()  # the dead sweep's INSERT goes on, finds its client gone, and ends
    finally:
        # Never left holding its row: a failure above would stall every later test's TRUNCATE.
        blocker.close()
    killed_at = time.monotonic()
    settle(lambda: busy_inserts(direct) == 0, lambda: busy_inserts(direct), timeout=30)
    left_after_kill = sweep_locks(direct)

    second = subprocess.run(command, env=env, cwd=str(Path(__file__).resolve().parents[2]),
                            capture_output=True, text=True, timeout=60)
    recovered = time.monotonic() - killed_at
    with database() as session:
        mails = Counter(session.scalars(select(OutboxMessage.user_id)))
    record(learners=KILLED_LEARNERS, locks_left_after_kill=left_after_kill,
           mailed_by_next_sweep=sum(mails.values()), seconds_to_recover=round(recovered, 1))
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{KILLED_LEARNERS} reminder(s) sent" in second.stdout, second.stdout[-500:]
    assert len(mails) == KILLED_LEARNERS and set(mails.values()) == {1}
    assert recovered < 60
    # Nothing of either sweep is left holding the lock for the sweep after them.
    assert left_after_kill == 0 and sweep_locks(direct) == 0
    direct.close()

