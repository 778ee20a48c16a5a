"""Migrations with data: a filled database survives upgrades, and the chain runs both ways."""
from __future__ import annotations

import os
from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.helpers.services import TEST_DATABASE_URL, needs_postgres


@pytest.fixture
def scratch_url():
    """A database of its own: the chain is run from nothing, without touching the test schema."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_migr_{os.getpid()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def count(conn, table: str) -> int:
    return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


@needs_postgres
def test_data_from_the_first_migrations_survives_upgrading_to_head(app_factory, scratch_url):
    app = app_factory(scratch_url)
    with app.app_context():
        from academy.extensions import db

        upgrade(revision="0002_accounts_learning")
        with db.engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO track (slug, title, summary, career, position, prerequisites,
                                   content_hash, created_at, updated_at)
                VALUES ('t', 'T', 'S', 'c', 1, '[]', 'h', now(), now())"""))
            conn.execute(text("""
                INSERT INTO lesson (track_id, slug, title, minutes, position, resources,
                                    body_markdown, body_html, content_hash, created_at, updated_at)
                SELECT id, 'l' || g, 'L', 5, g, '[]', 'b', 'b', 'h', now(), now()
                FROM track, generate_series(1, 3) g"""))
            conn.execute(text("""
                INSERT INTO user_account (email, password_hash, display_name, timezone,
                    reminder_hour, reminders_enabled, badge_emails_enabled, is_admin,
                    session_version, created_at, updated_at)
                SELECT 'u' || g || '@example.org', 'x', 'U', 'UTC', 18, true, true, false, 1,
                       now(), now() FROM generate_series(1, 50) g"""))
            conn.execute(text("""
                INSERT INTO enrollment (user_id, track_id, status, enrolled_at, last_activity_at)
                SELECT u.id, t.id, CASE WHEN u.id % 5 = 0 THEN 'dropped' ELSE 'active' END,
                       :at, :at FROM user_account u, track t"""), {"at": datetime(2026, 1, 1)})
            conn.execute(text("""
                INSERT INTO lesson_completion (enrollment_id, lesson_id, completed_at, content_hash)
                SELECT e.id, l.id, now(), 'h' FROM enrollment e, lesson l WHERE l.position <= 2"""))
            before = {t: count(conn, t) for t in
                      ("track", "lesson", "user_account", "enrollment", "lesson_completion")}
        upgrade()
        with db.engine.connect() as conn:
            assert {t: count(conn, t) for t in before} == before
            # The reminder migration scheduled every active enrollment, and only those.
            scheduled = conn.execute(text(
                "SELECT count(*) FROM enrollment "
                "WHERE next_reminder_at = last_activity_at + interval '3 days'")).scalar()
            assert scheduled == 40
            stage_zero = conn.execute(text(
                "SELECT count(*) FROM enrollment WHERE reminder_stage = 0")).scalar()
            assert stage_zero == 50


@needs_postgres
def test_head_to_base_and_back_on_a_filled_database(app_factory, scratch_url):
    app = app_factory(scratch_url)
    with app.app_context():
        from academy.extensions import db

        upgrade()
        result = app.test_cli_runner().invoke(args=["academy", "content", "sync"])
        assert result.exit_code == 0, result.output
        downgrade(revision="base")
        with db.engine.connect() as conn:
            left = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name <> 'alembic_version'")).scalar()
        assert left == 0
        upgrade()
        assert app.test_cli_runner().invoke(args=["academy", "content", "sync"]).exit_code == 0
        with db.engine.connect() as conn:
            assert count(conn, "track") == 6
