"""PostgreSQL drops the app's connections (``pg_terminate_backend``) while requests run: the
request caught in the middle answers 503 problem+json and leaves no partial rows; the next
requests get fresh connections (``pool_pre_ping``) and succeed."""
from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import psycopg
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError

from academy.accounts.models import User
from academy.extensions import db
from academy.learning.models import Enrollment, EnrollmentStatus, LearningDay, LessonCompletion
from academy.notifications.models import OutboxMessage
from tests.helpers.broker import queued
from tests.helpers.clients import signed_in

pytestmark = pytest.mark.faults(timeout=60)

TERMINATE = """
    SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'
"""


class Terminator:
    """Ends every other session on the test database, from a connection of its own."""

    def __init__(self, url: str):
        # prepare_threshold=None: it runs one statement again and again, and behind the pooled
        # pass's PgBouncer a statement prepared on a server connection breaks its next client.
        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                                    autocommit=True, prepare_threshold=None)
        self.kills = 0

    def __call__(self) -> int:
        # pg_terminate_backend(pid, timeout) returns once each backend has gone.
        ended = self.conn.execute(TERMINATE).fetchone()[0]
        self.kills += ended
        return ended

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def terminate(services, database_url):
    terminator = Terminator(database_url)
    yield terminator
    terminator.close()


@contextlib.contextmanager
def drop_connections(app, terminate, *, before: str | None = None, at_commit: bool = False,
                     at_rollback: bool = False):
    """Terminate the app's connections once: just before the first statement starting with
    ``before``, the first COMMIT or the first ROLLBACK; yields a list recording when it fired."""
    fired: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_statement(conn, cursor, statement, parameters, context, executemany):
        if not fired and before and statement.lstrip().upper().startswith(before.upper()):
            fired.append(statement.split("\n")[0][:80])
            terminate()

    def on_commit(conn):
        if not fired and at_commit:
            fired.append("COMMIT")
            terminate()

    def on_rollback(conn):
        if not fired and at_rollback:
            fired.append("ROLLBACK")
            terminate()

    listeners = (("before_cursor_execute", on_statement), ("commit", on_commit),
                 ("rollback", on_rollback))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield fired
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def assert_503(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503 and body["title"] and body["detail"]
    assert response.headers["Retry-After"]


def progress_rows(database, user_id: int) -> dict:
    with database() as session:
        enrollment = session.scalar(select(Enrollment).where(Enrollment.user_id == user_id))
        return {
            "status": enrollment.status,
            "completed_at": enrollment.completed_at,
            "completions": session.scalar(select(func.count()).select_from(LessonCompletion)
                                          .where(LessonCompletion.enrollment_id == enrollment.id)),
            "days": session.scalar(select(func.count()).select_from(LearningDay)
                                   .where(LearningDay.user_id == user_id)),
        }


@pytest.mark.parametrize("where", ["mid-request", "at-commit"])
def test_last_lesson_caught_by_the_drop_answers_503_and_writes_nothing(
        app, catalog, database, terminate, record, where):
    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    for lesson in ("intro", "numbers"):
        assert learner.complete("basics", lesson).status_code == 200
    before = progress_rows(database, learner.user_id)
    awards_queued = queued(app)

    # Mid-request: after the completion and the learning day are inserted, before the
    # enrollment is marked completed; or at the COMMIT of the transaction that completes the
    # track (and would publish its badge).
    options = {"before": "UPDATE enrollment"} if where == "mid-request" else {"at_commit": True}
    with drop_connections(app, terminate, **options) as fired:
        started = time.monotonic()
        response = learner.complete("basics", "plots")
        failed_in = time.monotonic() - started
    assert fired, "the drop never happened"
    assert_503(response)
    assert progress_rows(database, learner.user_id) == before  # no partial rows
    assert queued(app) == awards_queued  # and no badge published for a rollback

    started = time.monotonic()
    retry = learner.complete("basics", "plots")
    recovered_in = time.monotonic() - started
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["status"] == "completed"
    after = progress_rows(database, learner.user_id)
    assert after["status"] == EnrollmentStatus.completed and after["completions"] == 3
    assert queued(app) == awards_queued + 1  # the award, published once, after the real commit
    record(fired_at=fired[0], backends_ended=terminate.kills, status=response.status_code,
           failed_in_seconds=round(failed_in, 3), next_request_status=retry.status_code,
           next_request_seconds=round(recovered_in, 3))


def test_a_drop_after_the_answer_is_made_leaves_the_answer_alone(
        app, catalog, database, terminate, record):
    """The answer is made; the connection dies just before the request's session is closed
    (the ROLLBACK that ends the read which built it). The learner must get that answer, not an
    error. The bug it found: Flask-SQLAlchemy's teardown raised out of the WSGI app, which
    gunicorn turns into a bare 500 (text/html, no problem+json); for a write whose answer is
    read after its commit (POST /enrollments), a 500 for a write that was committed."""
    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    escaped = None
    with drop_connections(app, terminate, at_rollback=True) as fired:
        try:
            response = learner.get("/api/v1/enrollments/basics")
        except DBAPIError as exc:
            response = None
            escaped = f"{type(exc).__name__} raised out of the app's teardown: {exc}"[:300]
    assert fired == ["ROLLBACK"]
    record(escaped_the_app=escaped is not None)
    assert escaped is None, escaped
    assert response.status_code == 200
    assert learner.get("/api/v1/enrollments/basics").status_code == 200


def test_registration_caught_at_commit_leaves_neither_account_nor_mail(
        app, database, terminate, record):
    client = app.test_client()
    body = {"email": "drop@example.org", "password": "a long enough secret",
            "display_name": "Drop", "timezone": "UTC"}
    with drop_connections(app, terminate, at_commit=True) as fired:
        response = client.post("/api/v1/auth/register", json=body)
    assert fired == ["COMMIT"]
    assert_503(response)
    with database() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert queued(app, "mail") == 0  # no relay published for a rollback

    retry = client.post("/api/v1/auth/register", json=body)
    assert retry.status_code == 201, retry.get_json()
    with database() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    record(status=response.status_code, next_request_status=retry.status_code,
           users=1, verification_mails=1)


def test_requests_under_repeated_drops_answer_success_or_503_never_500(
        app, catalog, database, terminate, record):
    """Four learners keep working while every app connection is dropped every 150 ms."""
    learners = [signed_in(app, bearer=True) for _ in range(4)]
    for learner in learners:
        assert learner.enroll("basics").status_code == 201
    answers: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def work(learner):
        lessons = ["intro", "numbers", "plots"]
        i = 0
        while not stop.is_set():
            lesson = lessons[i % 3]
            for method, call in (("PUT", lambda: learner.complete("basics", lesson)),
                                 ("GET", lambda: learner.get("/api/v1/enrollments/basics")),
                                 ("DELETE", lambda: learner.delete(
                                     f"/api/v1/enrollments/basics/lessons/{lesson}"))):
                try:
                    response = call()
                except DBAPIError:  # raised out of the WSGI app: gunicorn would answer 500
                    answers.append((method, 500, "text/html"))
                    continue
                answers.append((method, response.status_code, response.mimetype))
            i += 1

    threads = [threading.Thread(target=work, args=(learner,)) for learner in learners]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 3
    drops = 0
    try:
        while time.monotonic() < deadline:
            time.sleep(0.15)
            terminate()
            drops += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    codes = Counter(code for _, code, _ in answers)
    record(requests=len(answers), answered_503=codes[503], answered_200=codes[200],
           answered_other=sum(n for c, n in codes.items() if c not in (200, 503)),
           drops=drops, backends_ended=terminate.kills)
    assert set(codes) <= {200, 503}, codes
    assert all(mimetype == "application/problem+json" for _, code, mimetype in answers if code == 503)
    assert codes[503] > 0, "no request was caught by a drop"
    # Afterwards every request succeeds, and what the database holds is consistent.
    for learner in learners:
        for lesson in ("intro", "numbers", "plots"):
            assert learner.complete("basics", lesson).status_code == 200
        body = learner.get("/api/v1/enrollments/basics").get_json()
        assert body["status"] == "completed" and body["progress"]["percent"] == 100
    with database() as session:
        per_enrollment = Counter(session.scalars(select(LessonCompletion.enrollment_id)))
    assert sorted(per_enrollment.values()) == [3] * len(learners)
