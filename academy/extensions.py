"""Extension objects, bound to the app in ``create_app``."""
import http
import re
import sqlite3

from flask import has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as _FlaskSession
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints, so migrations can drop and alter them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Session(_FlaskSession):
    """A request that only reads (GET, HEAD, OPTIONS) runs its statements in autocommit.

    That spares it the BEGIN before its first statement and the ROLLBACK after its last: two
    of the four or five round trips a typical read makes. What it reads does not change:
    under READ COMMITTED (PostgreSQL's default, and ours) every statement takes its own
    snapshot inside a transaction too, and reads take no locks. The one write a read request
    makes (a token's last-use stamp, ``accounts.auth``) is a single statement and commits by
    itself. Writes, the worker and the CLI run in transactions as before.
    """

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = super().get_bind(mapper, clause, bind, **kwargs)
        if bind is None and has_request_context() and request.method in _READ_ONLY_METHODS:
            return _autocommit(engine)
        return engine


def _autocommit(engine):
    # The same pool: connections get autocommit on checkout and lose it on return.
    variant = engine.__dict__.get("_academy_autocommit")
    if variant is None:
        variant = engine.__dict__["_academy_autocommit"] = engine.execution_options(
            isolation_level="AUTOCOMMIT")
    return variant


# Statements that may run during a read request: those that only read, and single writes that
# stand on their own (``execution_options(single_write=True)``). A WITH reads unless one of its
# parts writes.
_READS = ("SELECT", "SHOW", "PRAGMA")
_WRITES = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def _reads_only(statement: str) -> bool:
    head = statement.lstrip()[:6].upper()
    return head.startswith(_READS) or (head.startswith("WITH") and not _WRITES.search(statement))


@event.listens_for(Engine, "before_cursor_execute")
def _no_writes_in_autocommit(conn, cursor, statement, parameters, context, executemany):
    """In autocommit nothing can be rolled back, so a read request that starts writing (a
    handler bound to GET by mistake, say) is stopped at its first write, not left half done."""
    if (context is not None and context.execution_options.get("isolation_level") == "AUTOCOMMIT"
            and not _reads_only(statement)
            and not context.execution_options.get("single_write")):
        raise RuntimeError("A read request (GET, HEAD, OPTIONS) runs in autocommit and must not "
                           f"write: {statement.split(None, 3)[:3]}")


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate()
login_manager = LoginManager()
# Storage is Redis when ACADEMY_REDIS_URL is set (shared by every web process), else memory.
limiter = Limiter(key_func=get_remote_address)
# Checked explicitly for cookie-authenticated API writes (accounts.auth), not for every form.
csrf = CSRFProtect()
class ProblemApi(Api):
    """flask-smorest, documenting every error as the problem+json that errors.py answers."""

    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def _register_responses(self):
        from flask_smorest.utils import prepare_response

        from .schemas import ProblemSchema

        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, "application/problem+json")
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as RFC 9457 problem details", "schema": ProblemSchema}
        prepare_response(response, self.spec, "application/problem+json")
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_pagination_header(self):
        """Lists answer ``{"items", "total"}`` (``schemas.page_of``), never flask-smorest's
        pagination header: its schema would be documented for nothing."""


# flask-smorest builds /api/v1/openapi.json from the same marshmallow schemas the views load.
api = ProblemApi()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite is shared by the web process and the worker: WAL, a busy timeout, real FKs."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
