"""Request and response rules shared by every endpoint."""
from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import UnsupportedMediaType

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def conditional(response: Response) -> Response:
    """Tag a cacheable answer with a strong ETag and answer 304 to a matching If-None-Match."""
    response.add_etag()
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def _require_json_body() -> None:
    """Bodies sent to the API must be JSON; a form or text body is refused, not ignored."""
    if (request.method not in _BODY_METHODS or not request.path.startswith("/api/")
            or request.routing_exception is not None):
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in (
        request.headers.get("Transfer-Encoding", "").lower()
    )
    if has_body and not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json.")


def register_request_rules(app: Flask) -> None:
    app.before_request(_require_json_body)
