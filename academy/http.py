"""Request and response rules shared by every endpoint."""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import UnsupportedMediaType

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def conditional(response: Response) -> Response:
    """Tag a cacheable answer with a strong ETag and answer 304 to a matching If-None-Match."""
    response.add_etag()
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


# Pages are self-contained: inline styles, images from here, nothing else, never framed.
HTML_CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def html_page(body: str, status: int = 200) -> Response:
    """An HTML (or SVG) answer under the strict Content-Security-Policy."""
    response = current_app.response_class(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_CSP
    return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # JSON answers are never rendered, so they can forbid everything outright.
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


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
    app.after_request(_security_headers)
