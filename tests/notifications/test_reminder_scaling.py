"""The reminder sweep reads due enrollments through an index, not every learner."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from academy.learning.reminders import due_query
from tests.helpers.services import needs_postgres


@needs_postgres
def test_due_enrollments_come_from_an_index_scan(app, catalog, database):
    now = datetime(2026, 6, 1, 12, 0)
    with database() as session:
        track_id = session.execute(text("SELECT id FROM track WHERE slug = 'basics'")).scalar()
        # 20,000 learners: 19,900 idle but not due (future or paused), 100 due now.
        session.execute(text("""
            INSERT INTO user_account (email, password_hash, display_name, timezone, reminder_hour,
                reminders_enabled, badge_emails_enabled, is_admin, session_version, created_at,
                updated_at, email_verified_at)
            SELECT 'bulk' || g || '@example.org', '', 'Bulk', 'UTC', 18, true, true, false, 1,
                   now(), now(), now()
            FROM generate_series(1, 20000) g"""))
        session.execute(text("""
            INSERT INTO enrollment (user_id, track_id, status, enrolled_at, last_activity_at,
                                    reminder_stage, next_reminder_at)
            SELECT u.id, :track, 'active', :start, :start, 0,
                   CASE WHEN u.id % 200 = 0 THEN :due
                        WHEN u.id % 3 = 0 THEN NULL ELSE :later END
            FROM user_account u WHERE u.email LIKE 'bulk%'"""),
            {"track": track_id, "start": datetime(2026, 5, 1), "due": datetime(2026, 6, 1, 11, 0),
             "later": datetime(2026, 7, 1)})
        session.execute(text("ANALYZE enrollment"))
        session.commit()
        compiled = due_query(now).compile(dialect=postgresql.dialect(),
                                          compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
        due = session.execute(text(f"SELECT count(*) FROM ({compiled}) q")).scalar()
    print(plan)
    assert due == 100
    assert "ix_enrollment_next_reminder_at" in plan, plan
    assert "Seq Scan on enrollment" not in plan, plan


def test_a_sweep_batch_costs_the_same_statements_for_4_learners_as_for_40(app, catalog, database):
    """Each learner used to cost three statements of their own (the lesson titles, the outbox
    INSERT, the unsubscribe token's INSERT): 40 due learners took 108 more than 4. A batch now
    reads and writes all of its learners together."""
    from academy.extensions import db
    from academy.learning import reminders
    from tests.helpers.faults import idle_learners
    from tests.helpers.sql import statements

    now = datetime(2026, 6, 4, 18, 0)

    def sweep_of(learners: int) -> list[str]:
        with app.app_context():
            idle_learners(learners, ["basics", "advanced"], idle_since=datetime(2026, 5, 31, 12),
                          due_at=now, timezone="UTC", reminder_hour=18)
            with statements(app) as sent:
                assert len(reminders.sweep(now)) == learners
            db.session.remove()
        # The catalog cache's version check (at most once a second per process) is not the
        # sweep's: it may fall into either run.
        return [sql for _, sql in sent if "max(track.updated_at)" not in sql]

    sweep_of(1)  # the catalog cache filled, as in a worker that has run before
    small, large = sweep_of(4), sweep_of(40)
    print(f"statements per sweep: 4 learners {len(small)}, 40 learners {len(large)}")
    assert len(large) == len(small), (small, large)
    inserts = [sql.split("(")[0].strip() for sql in large if sql.lstrip().upper().startswith("INSERT")]
    assert inserts == ["INSERT INTO outbox_message", "INSERT INTO unsubscribe_token"], large
    assert len(large) <= 12, large
    with database() as session:
        assert session.execute(text("SELECT count(*) FROM outbox_message")).scalar() == 45
        assert session.execute(text("SELECT count(*) FROM unsubscribe_token")).scalar() == 45
