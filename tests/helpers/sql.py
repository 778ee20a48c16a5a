"""Counting the SQL statements a piece of work sends."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from academy.extensions import db


@contextmanager
def statements(app):
    """Each SQL statement sent meanwhile, with the isolation level it ran under."""
    sent: list[tuple[str, str]] = []

    def before(conn, cursor, statement, *args):
        sent.append((conn.get_execution_options().get("isolation_level", "transaction"), statement))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
