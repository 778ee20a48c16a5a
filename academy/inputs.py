"""Bytes no view should see, refused before any view runs.

PostgreSQL text cannot hold NUL and psycopg cannot encode a lone surrogate, so such a value
that reached a query was a 500. A path holding NUL, another control character or bytes that
are not UTF-8 names nothing here: 404, exactly as an unknown path (a page's path gets the
site's 404 page). Such a query string is a 400, and so is a form (the pages' sign-in form)
with NUL in a field. JSON bodies are checked with the other body rules (``http``: depth,
over-long numbers); strings inside them are the schemas' to check (``academy.fields.Text``),
which name the field.
"""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound

from .fields import text_problem

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _text(raw: bytes) -> str | None:
    """``raw`` as strict UTF-8 text, or None when it is not.

    Werkzeug decodes with ``errors="replace"``, so a view would see U+FFFD and never know; the
    bytes a lone surrogate would be encoded as are not UTF-8 either."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _wsgi_bytes(value: str) -> bytes:
    # PEP 3333: environ strings carry the request's bytes as latin-1; a server that broke
    # that rule sent nothing a route could match either.
    return value.encode("latin-1", "replace")


def path_problem(path_info: str) -> str | None:
    """Why the (already %-decoded) WSGI ``PATH_INFO`` names no resource here, or None."""
    path = _text(_wsgi_bytes(path_info))
    return "The path is not UTF-8." if path is None else text_problem(path)


def query_problem(query_string: str) -> str | None:
    """Why the raw WSGI ``QUERY_STRING`` cannot be read as parameters, or None."""
    query = _text(unquote_to_bytes(_wsgi_bytes(query_string)))
    if query is None:
        return "The query string is not UTF-8 once its %-escapes are decoded."
    problem = text_problem(query)
    return f"The query string cannot be read: {problem}" if problem else None


def _refuse_bad_bytes() -> None:
    environ = request.environ
    if path_problem(environ.get("PATH_INFO", "")):
        raise NotFound()  # the very answer an unknown path gets
    problem = query_problem(environ.get("QUERY_STRING", ""))
    if problem:
        raise BadRequest(problem)
    if request.mimetype in _FORMS and any("\x00" in key + value
                                          for key, value in request.form.items(multi=True)):
        # Werkzeug reads form bytes that are not UTF-8 as U+FFFD, so only NUL gets this far.
        raise BadRequest("A form field holds NUL, which no field can take.")


def register_inputs(app: Flask) -> None:
    """The first check of every request, before the rate limiter or a view reads it."""
    app.before_request(_refuse_bad_bytes)
