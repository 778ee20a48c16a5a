"""Fault injection: worker, beat and Redis processes in their own process groups, an SMTP sink
that can stall, a deadline exception, the figures file, and what the fault tests read back.

Every process is killed by the ``procs`` fixture's teardown (tests/faults/conftest.py), pass or
fail; an ``atexit`` hook kills any group a crashed run left behind. Only the groups this module
started are ever signalled.
"""
from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.helpers.mail import Recorder, free_port
from tests.helpers.services import ROOT, TEST_REDIS_URL, academy_environ, wait_until

REPORT_ENV = "ACADEMY_FAULTS_REPORT"  # tests/faults/report.py collects the figures through it

_live_groups: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    # Only reached with groups still alive if a teardown never ran (an interpreter crash).
    for pgid in list(_live_groups):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for folder in _LOG_DIR:
        if not os.environ.get("ACADEMY_FAULTS_KEEP_LOGS"):
            shutil.rmtree(folder, ignore_errors=True)


def disarm() -> None:
    """Cancel the test's deadline: teardowns that stop processes must run to their end."""
    signal.setitimer(signal.ITIMER_REAL, 0)


class Deadline(Exception):
    """The test ran past its time limit (raised in the main thread by SIGALRM)."""


# -- processes ------------------------------------------------------------------------------

_LOG_DIR: list[str] = []


def _log_dir() -> str:
    """A private directory for the children's output, so no clean-up of /tmp removes it."""
    if not _LOG_DIR:
        _LOG_DIR.append(tempfile.mkdtemp(prefix="academy-faults-logs-"))
    return _LOG_DIR[0]


class Proc:
    """A child process in its own process group, its output in a temporary file."""

    def __init__(self, name: str, args: list[str], env: dict, cwd: Path = ROOT):
        self.name = name
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"faults-{name}-", suffix=".log",
                                               dir=_log_dir(), delete=False)
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid
        _live_groups.add(self.pgid)

    def output(self) -> str:
        try:
            return Path(self.log.name).read_text(errors="replace")
        except FileNotFoundError:  # someone cleaned the directory under us: no output, no crash
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, text: str, timeout: float = 30, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.output().count(text) >= count:
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-4000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} never printed {text!r} ×{count}:\n{self.output()[-4000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group (a worker's pool children too) and reap the leader."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            self.proc.wait(timeout=10)
            _live_groups.discard(self.pgid)

    def stop(self, grace: float = 10) -> None:
        """TERM, then KILL after ``grace`` seconds; always leaves no process of the group."""
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Pool children of a worker whose leader already exited still share the group.
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        _live_groups.discard(self.pgid)


class RedisServer:
    """Our own ``redis-server`` on a free port, never the shared one: stop and start at will."""

    def __init__(self, procs: Procs):
        self.procs = procs
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="faults-redis-")
        self.proc: Proc | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", self.dir]
        self.proc = self.procs.spawn("redis", args, dict(os.environ))
        self.proc.wait_for("Ready to accept connections", timeout=15)

    def crash(self) -> None:
        """SIGKILL: no shutdown, and nothing persisted, so every queued message is gone."""
        self.proc.kill(signal.SIGKILL)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Procs:
    """Start workers, beats and a private Redis; ``close()`` stops every one of them."""

    def __init__(self, database_url: str, request):
        self.database_url = database_url
        self.request = request
        self.started: list[Proc] = []
        self.redis_servers: list[RedisServer] = []
        # Mail written as files (no ACADEMY_MAIL_URL) stays out of the checkout's instance/.
        self.mail_dir = tempfile.mkdtemp(prefix="faults-mail-")
        self.scratch: list[str] = [self.mail_dir]

    def env(self, **overrides) -> dict:
        return academy_environ(self.database_url, **{"ACADEMY_MAIL_DIR": self.mail_dir,
                                                     "ACADEMY_REDIS_URL": TEST_REDIS_URL or "",
                                                     **overrides})

    def spawn(self, name: str, args: list[str], env: dict) -> Proc:
        proc = Proc(name, args, env)
        self.started.append(proc)
        return proc

    def workers(self, n: int = 1, concurrency: int = 2, **env) -> list[Proc]:
        """Start ``n`` ``celery -A worker worker`` processes at once; return when all are ready."""
        made = []
        for _ in range(n):
            node = f"faults-{uuid.uuid4().hex[:8]}@%h"
            args = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel=info",
                    f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
                    "--without-heartbeat", "-n", node]
            made.append(self.spawn("worker", args, self.env(**env)))
        for proc in made:
            proc.wait_for(" ready.", timeout=60)
        return made

    def worker(self, **env) -> Proc:
        return self.workers(1, **env)[0]

    def beats(self, n: int, period: float, **env) -> list[Proc]:
        """Start ``n`` production ``celery -A worker beat`` processes whose every schedule entry
        runs each ``period`` seconds (tests/faults/fastbeat.py); return once each has sent one."""
        made = []
        for _ in range(n):
            self.scratch.append(tempfile.mkdtemp(prefix="faults-beat-"))
            schedule = Path(self.scratch[-1]) / "schedule"
            args = [sys.executable, "-m", "celery", "-A", "worker", "beat", "--loglevel=info",
                    "-S", "tests.faults.fastbeat:FastScheduler", "-s", str(schedule),
                    "--max-interval", str(max(1, int(period)))]
            made.append(self.spawn("beat", args, self.env(ACADEMY_FAULTS_BEAT_PERIOD=str(period),
                                                          **env)))
        for proc in made:
            proc.wait_for("Scheduler: Sending due task", timeout=60)
        return made

    def redis(self) -> RedisServer:
        server = RedisServer(self)
        self.redis_servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        disarm()  # the deadline must not cut this teardown short
        failed = getattr(self.request.node, "rep_call", None)
        errors = []
        for proc in self.started:
            try:
                proc.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others first, then report
                errors.append(exc)
            if failed is not None and failed.failed:
                # Shown by pytest with the failure: what each process said last.
                print(f"\n===== {proc.name} (pid {proc.pgid}) =====\n{proc.output()[-6000:]}")
            proc.log.close()
            if os.environ.get("ACADEMY_FAULTS_KEEP_LOGS"):
                print(f"kept {proc.name} log: {proc.log.name}")
            else:
                Path(proc.log.name).unlink(missing_ok=True)
        for server in self.redis_servers:
            server.close()
        for folder in self.scratch:
            shutil.rmtree(folder, ignore_errors=True)
        if errors:
            raise errors[0]


# -- the SMTP server ------------------------------------------------------------------------

class Sink(Recorder):
    """A recorder that can be slowed (``delay`` s per DATA), or hold its reply to the
    ``pause_at``-th DATA: that message is recorded (the server has taken it) but the client
    has not read the 250 yet, the widest point of the relay's duplicate window."""

    def __init__(self, delay: float = 0.0, pause_at: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay
        self.pause_at = pause_at
        self.paused = False
        self.released = False

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        # Recorded first: the server has taken the message, only its 250 is still to come.
        reply = await super().handle_DATA(server, session, envelope)
        if self.pause_at is not None and len(self.attempts) == self.pause_at:
            self.paused = True
            deadline = time.monotonic() + 120
            while not self.released and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        return reply

    def release(self) -> None:
        self.released = True

    def per_recipient(self) -> Counter:
        return Counter(rcpt for _, rcpts, _ in self.delivered for rcpt in rcpts)

    def message_ids(self) -> Counter:
        return Counter(message["Message-ID"] for message in self.messages())


class SmtpSinks:
    def __init__(self):
        self.controllers: list[tuple[Controller, Sink]] = []

    def start(self, port: int | None = None, **kwargs) -> Sink:
        sink = Sink(**kwargs)
        sink.port = port or free_port()
        sink.url = f"smtp://127.0.0.1:{sink.port}?timeout=10"
        controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
        controller.start()
        self.controllers.append((controller, sink))
        return sink

    def close(self) -> None:
        disarm()
        for controller, sink in self.controllers:
            sink.release()
            controller.stop()


# -- figures for RELIABILITY.md ------------------------------------------------------------

def update_report(path: str, test: str, values: dict | None) -> None:
    file = Path(path)
    data = json.loads(file.read_text()) if file.exists() else {}
    if values is None:
        data[test] = {}
    else:
        data.setdefault(test, {}).update(values)
    file.write_text(json.dumps(data, indent=2, sort_keys=True))


# -- reading back what happened ------------------------------------------------------------

def send_task(app, name: str, **options) -> None:
    """Publish a task by name through ``app``'s broker, as beat or a web process would."""
    app.extensions["celery"].send_task(name, **options)


def logged(procs_: list[Proc], task: str, event: str) -> int:
    """How many runs of ``task`` the workers logged as ``received``, ``succeeded`` or ``raised``."""
    pattern = re.compile(rf"Task {re.escape(task)}\[[0-9a-f-]+\] {event}")
    return sum(len(pattern.findall(proc.output())) for proc in procs_)


def succeeded(procs_: list[Proc], task: str) -> int:
    return logged(procs_, task, "succeeded")


def settle(predicate, state, timeout: float, interval: float = 0.1) -> None:
    """``wait_until`` that says, when it gives up, what ``state()`` looked like."""
    try:
        wait_until(predicate, timeout=timeout, interval=interval)
    except AssertionError:
        raise AssertionError(f"not settled within {timeout:.0f} s: {state()}") from None


def outbox_status(database) -> Counter:
    """Outbox rows by status, read fresh from the database."""
    from sqlalchemy import func, select

    from academy.notifications.models import OutboxMessage

    with database() as session:
        rows = session.execute(select(OutboxMessage.status, func.count())
                               .group_by(OutboxMessage.status)).all()
    return Counter({status.value: count for status, count in rows})


def idle_learners(n: int, tracks: list[str], *, idle_since, due_at, **user_fields) -> list[int]:
    """``n`` verified learners enrolled in ``tracks``, idle since ``idle_since`` and due for a
    reminder at ``due_at``; enrollments are made track by track, so one learner's rows are
    far apart in id order (a sweep batch can end between them). Call in an app context."""
    from sqlalchemy import select

    from academy.catalog.models import Track
    from academy.extensions import db
    from academy.learning.models import Enrollment, EnrollmentStatus
    from tests.helpers.factories import make_user

    users = [make_user(commit=False, **user_fields).id for _ in range(n)]
    track_ids = [db.session.scalar(select(Track.id).where(Track.slug == slug)) for slug in tracks]
    for track_id in track_ids:
        db.session.add_all(
            Enrollment(user_id=user_id, track_id=track_id, status=EnrollmentStatus.active,
                       enrolled_at=idle_since, last_activity_at=idle_since,
                       next_reminder_at=due_at)
            for user_id in users)
        db.session.flush()
    db.session.commit()
    return users
