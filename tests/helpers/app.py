"""Building test apps, emptying their database, and closing what an extra app opened."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.helpers.services import TEST_REDIS_URL, academy_environ


def make_app(instance_dir: Path, database_url: str, **overrides):
    """An app on ``database_url`` with the test settings; ``overrides`` win over them."""
    from academy import create_app

    config = {
        "TESTING": True,
        "MAIL_DIR": str(instance_dir / "mail"),
        "BROKER_DIR": str(instance_dir / "broker"),
        "REDIS_URL": TEST_REDIS_URL,
        **overrides,
    }
    return create_app(config, environ=academy_environ(database_url))


def reset_schema(app) -> None:
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
    # An app whose Redis was down left the extension on its in-memory fallback, which neither
    # init_app nor reset() clears: later tests would count on leftovers. Back to real storage.
    limiter._storage_dead = False
    if getattr(limiter, "_fallback_storage", None) is not None:
        limiter._fallback_storage.reset()
    celery = app.extensions["celery"]
    celery.set_current()  # every new Celery() makes itself current for the thread
    celery.set_default()
