"""Test fixtures: a real database (PostgreSQL when ACADEMY_TEST_DATABASE_URL is set), one app,
clean tables after every test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

TEST_DATABASE_URL = os.environ.get("ACADEMY_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("ACADEMY_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parent.parent

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ACADEMY_TEST_DATABASE_URL (CI does)",
)
needs_redis = pytest.mark.skipif(
    not TEST_REDIS_URL, reason="needs Redis: set ACADEMY_TEST_REDIS_URL (CI does)"
)


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def database_url(instance_dir) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{instance_dir / 'test.db'}"


def make_app(instance_dir: Path, database_url: str, **overrides):
    from academy import create_app

    env = {
        "ACADEMY_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "ACADEMY_DATABASE_URL": database_url,
        "ACADEMY_BASE_URL": "http://academy.test",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        config = {
            "TESTING": True,
            "MAIL_DIR": str(instance_dir / "mail"),
            "BROKER_DIR": str(instance_dir / "broker"),
            "REDIS_URL": TEST_REDIS_URL,
        }
        config.update(overrides)
        return create_app(config)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _reset_schema(app) -> None:
    """Start every session from an empty database, then build it with the migrations."""
    from flask_migrate import upgrade

    from academy.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.session.remove()


@pytest.fixture(scope="session")
def app(instance_dir, database_url):
    app = make_app(instance_dir, database_url)
    _reset_schema(app)
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


def empty_tables() -> None:
    """Delete every row of every table (in the current app context), restarting ids."""
    from academy.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


def dispose(app) -> None:
    """Close an extra app's pooled connections (unclosed ones are errors under -W error)."""
    from academy.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def restore(app) -> None:
    """Give the shared extension objects back to ``app`` after another app was built.

    Flask-Limiter keeps its storage and on/off switch on the extension object, and Celery's
    shared tasks run and publish through the last Celery app made, so an extra app with other
    settings (a dead broker, a disposed database engine) would leak into the tests that follow.
    """
    from academy.extensions import limiter

    limiter.init_app(app)  # hooks are registered once per app; this only re-reads its config
    celery = app.extensions["celery"]
    celery.set_current()  # every new Celery() makes itself current for the thread
    celery.set_default()


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
    from contextlib import contextmanager

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


class WorkerProcess:
    """A real ``celery -A worker worker`` process on the test database and Redis."""

    def __init__(self, database_url: str, env: dict, queues: str | None = None):
        import subprocess
        import sys
        import tempfile

        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        full_env = {
            **os.environ,
            "ACADEMY_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "ACADEMY_DATABASE_URL": database_url,
            "ACADEMY_REDIS_URL": TEST_REDIS_URL or "",
            "ACADEMY_BASE_URL": "http://academy.test",
            **env,
        }
        args = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel=info",
                "--concurrency=2", "--without-gossip", "--without-mingle", "-n", f"test{os.getpid()}@%h"]
        if queues:
            args += ["-Q", queues]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_for("ready.", timeout=60)
        except BaseException:
            self.stop()  # never leave a half-started worker consuming the test queues
            raise

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def wait_for(self, text: str, timeout: float = 20) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker never printed {text!r}:\n{self.output()[-4000:]}")

    def kill(self, sig=None) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig or signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


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


def wait_until(predicate, timeout: float = 15, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture
def catalog(app, tmp_path):
    """Two small tracks synced into the database: basics (intro, numbers, plots) and advanced."""
    from tests.content_factory import two_tracks

    root = two_tracks(tmp_path / "content")
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def learner(app, catalog):
    from tests.clients import signed_in

    return signed_in(app)
