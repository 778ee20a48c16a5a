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
