"""Test fixtures: a real database (PostgreSQL when ACADEMY_TEST_DATABASE_URL is set), one app,
clean tables after every test. The helpers they use live in tests/helpers."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.app import dispose, empty_tables, make_app, reset_schema, restore
from tests.helpers.clients import signed_in
from tests.helpers.content import two_tracks
from tests.helpers.services import TEST_DATABASE_URL, TEST_REDIS_URL
from tests.helpers.worker import WorkerProcess


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{instance_dir / 'test.db'}"


@pytest.fixture(scope="session")
def app(instance_dir, database_url):
    app = make_app(instance_dir, database_url)
    reset_schema(app)
    yield app
    dispose(app)


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Every test starts with empty tables; commits are real, so threads and workers see them."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    from academy.extensions import db, limiter

    with app.app_context():
        limiter.reset()  # every test starts with fresh rate-limit counters

    with app.app_context():
        db.session.remove()
        empty_tables()


@pytest.fixture
def app_factory(app, instance_dir, database_url):
    """Build extra apps with other settings; afterwards their connections are closed and the
    shared extensions are given back to the session's app."""
    made = []

    def factory(url: str | None = None, **overrides):
        made.append(make_app(instance_dir, url or database_url, **overrides))
        return made[-1]

    yield factory
    for extra in made:
        dispose(extra)
    restore(app)


@pytest.fixture
def ctx(app):
    """An app context for the whole test: only for tests that make no HTTP requests, because a
    request reuses an open app context (and its ``g`` and session) instead of making its own."""
    with app.app_context() as ctx:
        yield ctx


@pytest.fixture
def database(app):
    """``with database() as session:`` opens a fresh app context and session, as a new process would."""
    from academy.extensions import db

    @contextmanager
    def open_session():
        with app.app_context():
            try:
                yield db.session
            finally:
                db.session.remove()

    return open_session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    """Click's runner: ``result.output`` holds stdout and stderr, ``result.stderr`` the errors."""
    return app.test_cli_runner()


def pytest_configure(config):
    if os.environ.get("ACADEMY_TEST_REQUIRE_SERVICES") and not (TEST_DATABASE_URL and TEST_REDIS_URL):
        raise pytest.UsageError(
            "ACADEMY_TEST_REQUIRE_SERVICES is set: ACADEMY_TEST_DATABASE_URL and "
            "ACADEMY_TEST_REDIS_URL must both be set (CI never skips the real-server tests)"
        )


@pytest.fixture
def start_worker(app, database_url, instance_dir):
    """Start real worker processes; needs Redis so the test and the worker share a broker."""
    if not TEST_REDIS_URL:
        pytest.skip("needs Redis: set ACADEMY_TEST_REDIS_URL (CI does) to run a real worker")
    if database_url.startswith("sqlite"):
        pytest.skip("needs PostgreSQL: a worker process and the tests share a database server")
    import redis

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    workers: list[WorkerProcess] = []

    def start(queues: str | None = None, **env) -> WorkerProcess:
        # Mail the worker writes as files lands where the tests' own app writes it, never in
        # the checkout's instance/ folder.
        env.setdefault("ACADEMY_MAIL_DIR", str(instance_dir / "mail"))
        workers.append(WorkerProcess(database_url, env, queues))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def catalog(app, tmp_path):
    """Two small tracks synced into the database: basics (intro, numbers, plots) and advanced."""
    root = two_tracks(tmp_path / "content")
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def learner(app, catalog):
    return signed_in(app)
