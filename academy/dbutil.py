"""Portable SQL that SQLAlchemy's core leaves to each dialect."""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .extensions import db

log = logging.getLogger(__name__)


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _supported(dialect: str) -> str:
    if dialect not in _INSERTS:
        raise NotImplementedError(f"supported databases are PostgreSQL and SQLite, not {dialect}")
    return dialect


def dialect_insert(model):
    """The INSERT construct of the session's database, which knows ON CONFLICT."""
    return _INSERTS[_supported(db.session.get_bind().dialect.name)](model)


_INSERT_IGNORE: dict = {}


def insert_ignore(model, values: dict, conflict: list[str]) -> bool:
    """INSERT … ON CONFLICT (conflict) DO NOTHING; True when this call inserted the row.

    Races end in one row and no error: the database's unique key decides, not Python.
    The statement is built once per table and database and the values are bound at execution:
    this runs on every lesson a learner completes, and building an ORM INSERT with its values
    cost more than sending it.
    """
    dialect = db.session.get_bind().dialect.name
    key = (dialect, model, tuple(conflict))
    statement = _INSERT_IGNORE.get(key)
    if statement is None:
        table = model.__table__
        statement = _INSERT_IGNORE[key] = (
            _INSERTS[_supported(dialect)](table).on_conflict_do_nothing(index_elements=conflict)
            .returning(*table.primary_key.columns))
    # RETURNING, not rowcount: drivers may not report a count for INSERT … ON CONFLICT.
    return db.session.execute(statement, values).first() is not None


def locks_rows() -> bool:
    """Whether the session's database takes row locks (PostgreSQL); SQLite locks the file."""
    return db.session.get_bind().dialect.name == "postgresql"


# -- work that must wait for the commit --------------------------------------------------------

_AFTER_COMMIT = "academy.after_commit"


def call_after_commit(key: str, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction commits; never if it rolls back.

    Keyed, so the same work registered twice in one transaction runs once. Used to publish
    Celery tasks that read rows this transaction writes: published earlier, a worker could
    look before the rows exist.
    """
    db.session().info.setdefault(_AFTER_COMMIT, {})[key] = callback


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires after_commit too; only the outermost commit makes rows visible.
    if session.in_nested_transaction():
        return
    for key, callback in session.info.pop(_AFTER_COMMIT, {}).items():
        try:
            callback()
        except Exception:  # noqa: BLE001 - committed already; the reconcilers catch up
            log.warning("after-commit work %s failed; a periodic reconciler will redo it", key,
                        exc_info=True)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction) -> None:
    if transaction.parent is None and not transaction.nested:
        # Outermost transaction over without a commit having run the callbacks: drop them.
        session.info.pop(_AFTER_COMMIT, None)
