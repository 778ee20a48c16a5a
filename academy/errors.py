"""Every error the API answers, as ``application/problem+json`` (RFC 9457), in one place."""
from __future__ import annotations

import logging
import math
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from limits.errors import StorageError
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect

log = logging.getLogger(__name__)

PROBLEM_TYPE = "about:blank"


class AcademyError(Exception):
    """Base of the domain errors that services raise; ``status`` says how HTTP sees it."""

    status = 400
    title: str | None = None

    def __init__(self, detail: str, *, errors: dict | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class NotFound(AcademyError):
    status = 404


class Conflict(AcademyError):
    status = 409


class Forbidden(AcademyError):
    status = 403


class Unauthorized(AcademyError):
    status = 401


class Invalid(AcademyError):
    """A request that is well-formed but breaks a rule; ``errors`` names the fields."""

    status = 422


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            errors: dict | None = None, headers: dict | None = None, **extra):
    """Build a problem+json response."""
    body = {
        "type": PROBLEM_TYPE,
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail or HTTP_STATUS_CODES.get(status, "Error"),
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    # Serialised as every other JSON answer is (the app's JSON provider), only the type differs.
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"a.b.0": ["reason", ...]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "body" if key == "_schema" and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix and key != "_schema" else (prefix or name)
            for field, reasons in flatten_messages(value, path).items():
                flat.setdefault(field, []).extend(reasons)
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "body"] = list(messages)
        else:
            for item in messages:
                for field, reasons in flatten_messages(item, prefix).items():
                    flat.setdefault(field, []).extend(reasons)
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat


def _webargs_messages(error: HTTPException) -> dict | None:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if not isinstance(messages, dict):
        return None
    # webargs keys messages by location ({"json": {...}, "query": {...}}); clients want fields.
    merged: dict = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            merged.update(location_messages)
        else:
            merged.setdefault("_schema", []).extend(location_messages)
    return merged


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    if isinstance(error, InternalServerError):
        return handle_unexpected(getattr(error, "original_exception", None) or error)
    headers = {}
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429:
        detail, wait = rate_limited(error)
        return problem(429, detail, headers={"Retry-After": str(wait)})
    messages = _webargs_messages(error)
    if status == 422 and messages is not None:
        errors = flatten_messages(messages)
        return problem(422, "The request has invalid fields.", errors=errors, headers=headers)
    if status == 400 and messages is not None:
        return problem(400, "The request body is not valid JSON.", headers=headers)
    detail = error.description if isinstance(error.description, str) else None
    return problem(status, detail, headers=headers)


def rate_limited(error: HTTPException) -> tuple[str, int]:
    """What a refused attempt tells the client: how long to wait, in words and in seconds."""
    from .extensions import limiter

    wait = getattr(error, "retry_after", None)
    current = limiter.current_limit if wait is None else None
    if current is not None and current.breached:
        # reset_at is the window's end rounded up to the next second: never past the window.
        wait = min(current.reset_at - time.time(), current.limit.get_expiry())
    seconds = max(1, math.ceil(wait)) if isinstance(wait, (int, float)) else 60
    if seconds < 60:
        when = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = max(1, round(seconds / 60))  # the window's end is stored to the second
        when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many attempts; try again in {when}.", seconds


def answer_routing_redirect():
    """The 308 Werkzeug's router asks for (``//tracks`` merged, a slash added or dropped), as
    problem+json with a ``Location`` that names no host.

    Werkzeug builds its redirect's absolute URL from the request's ``Host`` header, which a
    client writes as it likes (``Host: evil.example``), and Flask hands routing redirects to
    no error handler: this runs first among the ``before_request`` functions instead. The
    Location is the path (under the prefix, ``SCRIPT_NAME``) and query only, which the client
    resolves against the URL it asked for: the scheme, host and port it reached us by."""
    error = request.routing_exception
    if not isinstance(error, RequestRedirect):
        return None
    target = urlsplit(error.new_url)
    # Never "//host/…", which a client would read as another host.
    location = "/" + target.path.lstrip("/") + (f"?{target.query}" if target.query else "")
    return problem(error.code, f"This resource is at {location}.", title="Permanent Redirect",
                   headers={"Location": location})


def handle_storage_error(error: StorageError):
    """The rate-limit storage (Redis) does not answer. In production no limit falls back to
    per-process counters (N processes would give N fresh quotas), and none is skipped either:
    a door that is rate limited stays shut until its count can be kept."""
    log.error("rate-limit storage unreachable on %s %s: %r", request.method, request.path,
              error.storage_error)
    return problem(503, "This cannot be done right now; try again shortly.",
                   headers={"Retry-After": "5"})


def handle_csrf_error(error):
    return problem(403, "Send the X-CSRF-Token header (from the login answer or GET "
                        "/api/v1/auth/csrf) with cookie-authenticated writes.")


def handle_validation_error(error: ValidationError):
    return problem(422, "The request has invalid fields.", errors=flatten_messages(error.messages))


def handle_domain_error(error: AcademyError):
    return problem(error.status, error.detail, title=error.title, errors=error.errors,
                   headers=error.headers)


def handle_database_error(error: DBAPIError):
    if not error.connection_invalidated and not _is_disconnect(error):
        return handle_unexpected(error)
    # The connection died under us: nothing was committed, the pool will reconnect.
    from .extensions import db

    try:
        db.session.rollback()
    except DBAPIError:  # the rollback meets the same dead connection; the pool replaces it
        pass
    log.warning("database connection lost on %s %s", request.method, request.path)
    return problem(503, "The database is not answering; try again shortly.",
                   headers={"Retry-After": "5"})


def _is_disconnect(error: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(error, (OperationalError, InterfaceError))


def handle_unexpected(error: BaseException):
    # The traceback goes to the log; the client learns nothing about internals.
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return problem(500, "Something went wrong on our side; it has been logged.")


def register_errorhandlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    # First of all: a request the router redirects meets no limit, token or CSRF check.
    app.before_request_funcs.setdefault(None, []).insert(0, answer_routing_redirect)

    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(AcademyError, handle_domain_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(StorageError, handle_storage_error)
    app.register_error_handler(Exception, handle_unexpected)
