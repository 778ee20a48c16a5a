"""``GET /enrollments`` costs the same number of SQL statements for 1 enrollment and for 6."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from academy.extensions import db
from tests.clients import signed_in
from tests.content_factory import write_track


@contextmanager
def count_statements(app):
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


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
        with count_statements(app) as statements:
            body = learner.get("/api/v1/enrollments").get_json()
        assert body["total"] == expected
        counts.append(len(statements))
    print(f"statements for GET /enrollments: 1 enrollment={counts[0]}, 6 enrollments={counts[1]}")
    assert counts[0] == counts[1], counts
    assert counts[0] <= 6, counts
