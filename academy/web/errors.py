"""Errors on a page answer as a page: a learner's browser never shows problem+json."""
from __future__ import annotations

from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..errors import AcademyError, rate_limited
from . import bp
from .render import page

_WHAT = {
    400: "The form could not be read. Go back and try again.",
    403: "You cannot open this page with your account.",
    404: "There is no such page. It may have moved, or the link may be mistyped.",
}


def _error_page(status: int, detail: str | None = None, headers: dict | None = None):
    response = page("web/error.html", status, code=status,
                    title=HTTP_STATUS_CODES.get(status, "Error"),
                    detail=detail or _WHAT.get(status, "Something went wrong."))
    response.headers.update(headers or {})
    return response


@bp.errorhandler(CSRFError)
def _csrf(error):
    return _error_page(400, "This form has expired. Go back, reload the page and try again.")


@bp.errorhandler(HTTPException)
def _http(error):
    if error.code == 429:
        detail, wait = rate_limited(error)
        return _error_page(429, detail, {"Retry-After": str(wait)})
    return _error_page(error.code or 500)


@bp.errorhandler(StorageError)
def _limits_down(error):
    """Production keeps no per-process counts while Redis is away: a rate-limited form
    (sign-in, sign-up, reset) waits until the count can be kept (``errors.handle_storage_error``)."""
    from ..errors import log

    log.error("rate-limit storage unreachable on a page: %r", error.storage_error)
    return _error_page(503, "This cannot be done right now. Try again in a few seconds.",
                       {"Retry-After": "5"})


@bp.errorhandler(AcademyError)
def _domain(error):
    return _error_page(error.status, error.detail)
