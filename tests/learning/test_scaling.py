"""``GET /enrollments`` costs the same number of SQL statements for 1 enrollment and for 6, a
lesson completed costs a fixed handful, and read requests run without a transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from academy.extensions import db
from tests.helpers.clients import signed_in
from tests.helpers.content import write_track
from tests.helpers.sql import statements


def test_enrollment_list_has_no_n_plus_one(app, catalog):
    for n in range(3, 7):
        write_track(catalog, f"extra-{n}", ["one", "two"], position=n)
    assert app.test_cli_runner().invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    one, six = signed_in(app), signed_in(app)
    one.enroll("basics")
    one.complete("basics", "intro")
    for slug in ["basics", "advanced", "extra-3", "extra-4", "extra-5", "extra-6"]:
        six.enroll(slug)
        six.complete(slug, "intro" if slug == "basics" else "one" if slug.startswith("extra") else "models")
    counts = []
    for learner, expected in ((one, 1), (six, 6)):
        with statements(app) as sent:
            body = learner.get("/api/v1/enrollments").get_json()
        assert body["total"] == expected
        counts.append(len(sent))
    print(f"statements for GET /enrollments: 1 enrollment={counts[0]}, 6 enrollments={counts[1]}")
    assert counts[0] == counts[1], counts
    # The learner's session, then one statement for the page with its progress and total (a
    # third only if the catalog cache checks its version during the request).
    assert counts[0] <= 3, counts


def test_reads_run_in_autocommit_and_writes_in_one_transaction(app, catalog):
    learner = signed_in(app, bearer=True)
    learner.enroll("basics")
    with statements(app) as levels:
        assert learner.get("/api/v1/enrollments").status_code == 200
        assert learner.get("/api/v1/me").status_code == 200
    assert levels and {level for level, _ in levels} == {"AUTOCOMMIT"}, levels
    with statements(app) as levels:
        assert learner.put("/api/v1/enrollments/basics/lessons/intro",
                           json={"status": "completed"}).status_code == 200
    assert "AUTOCOMMIT" not in {level for level, _ in levels}, levels
    # A completed lesson: the token's owner, the locked enrollment, the completion, the
    # learning day, the completions read back under the lock and one UPDATE of the enrollment;
    # on PostgreSQL the middle three are one statement.
    verbs = [statement.split()[0].upper() for _, statement in levels]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert [verb for verb in verbs if verb != "SELECT"] == ["WITH", "UPDATE"], levels
        assert len(levels) <= 5, levels
    else:
        assert [verb for verb in verbs if verb != "SELECT"] == ["INSERT", "INSERT", "UPDATE"], levels
        assert len(levels) <= 7, levels


def test_a_read_still_records_when_a_token_was_last_used(app, catalog, database):
    from academy.accounts.models import AccessToken

    learner = signed_in(app, bearer=True)
    with database() as session:
        session.execute(update(AccessToken).values(last_used_at=None))
        session.commit()
    assert learner.get("/api/v1/enrollments").status_code == 200
    with database() as session:
        assert session.scalar(select(AccessToken.last_used_at)) is not None


def test_a_read_request_that_writes_is_stopped_before_its_first_write(app, catalog):
    from academy.learning import service

    learner = signed_in(app)
    learner.enroll("basics")
    with app.test_request_context(method="GET"), pytest.raises(RuntimeError, match="must not write"):
        service.complete_lesson(learner.user_id, "basics", "intro")
    with app.app_context():
        db.session.remove()
    # Nothing of it was written: the lesson is still to do.
    assert learner.get("/api/v1/enrollments/basics").get_json()["progress"]["completed"] == 0
