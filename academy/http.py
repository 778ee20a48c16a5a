"""Request and response rules shared by every endpoint."""
from __future__ import annotations

import re
import sys
from functools import cache

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# Request headers that make an answer conditional (or partial); without any of them, werkzeug's
# make_conditional would only add a Date header. The server adds Date (gunicorn always does,
# so one added here would make two), so the app never sends one.
_CONDITIONAL_KEYS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE",
                     "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE", "HTTP_RANGE")


def conditional(response: Response, etag: str | None = None) -> Response:
    """Tag a cacheable answer with a strong ETag and answer 304 to a matching If-None-Match.

    ``etag``, when given, is the answer's ETag computed beforehand (as ``add_etag`` would)."""
    if etag is None:
        response.add_etag()
    else:
        response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    environ = request.environ
    if environ["REQUEST_METHOD"] in ("GET", "HEAD") and not any(
            key in environ for key in _CONDITIONAL_KEYS):
        return response
    response = response.make_conditional(request)
    response.headers.pop("Date", None)
    return response


# Pages load their stylesheet, scripts and images from this host only, never anything inline
# (no style attribute, no <style> or inline <script>), and are never framed.
HTML_CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def html_page(body: str, status: int = 200) -> Response:
    """An HTML (or SVG) answer under the strict Content-Security-Policy."""
    response = current_app.response_class(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_CSP
    return response


_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    # JSON answers are never rendered, so they can forbid everything outright.
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)


# Answers about one learner: never stored by a shared cache, and keyed by who asked.
_PRIVATE_PREFIXES = ("/api/v1/me", "/api/v1/enrollments", "/api/v1/auth/", "/api/v1/admin/",
                     "/dashboard", "/settings", "/admin")
HSTS = "max-age=31536000; includeSubDomains"


def _privacy_headers(response: Response) -> Response:
    if request.path.startswith(_PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Authorization")
        response.vary.add("Cookie")
    if current_app.config.get("ACADEMY_ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _security_headers(response: Response) -> Response:
    # Each header unless the answer set its own (an HTML page's CSP). One pass over the few
    # headers present: Headers.setdefault raises and catches a KeyError per missing header.
    headers = response.headers
    present = {key.lower() for key, _ in headers}
    for name, value in _SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


# Deeper JSON than any request of ours needs is refused before anything parses it: the
# parser recurses per level, and a RecursionError raised inside the rate limiter's key
# function once moved a worker's limits onto per-process counters.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in ``data`` (brackets inside strings not counted)."""
    return _depth(_JSON_STRING.sub(b"", data))


def _depth(bare: bytes) -> int:
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(bare):
        depth += 1 if bracket in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


@cache
def _digits(count: int) -> re.Pattern[bytes]:
    return re.compile(rb"\d{%d}" % count)


def _require_json_body() -> None:
    """Bodies sent to the API must be JSON; a form or text body is refused, not ignored; JSON
    nested deeper than ``MAX_JSON_DEPTH``, or holding a number longer than Python reads as an
    int (its parser would raise a ValueError no one catches), is refused before anything reads
    it. Both look at the body with its strings taken out, which is done once."""
    if (request.method not in _BODY_METHODS or not request.path.startswith("/api/")
            or request.routing_exception is not None):
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in (
        request.headers.get("Transfer-Encoding", "").lower()
    )
    if has_body and not request.is_json:
        raise UnsupportedMediaType("Send the request body as application/json.")
    if not has_body:
        return
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body has no length to check up front, and werkzeug stops reading it at
        # the limit without a word: what it read would be a truncated document.
        raise RequestEntityTooLarge()
    bare = _JSON_STRING.sub(b"", data)
    if _depth(bare) > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
    digits = sys.get_int_max_str_digits()
    if digits and len(bare) > digits and _digits(digits + 1).search(bare):
        raise BadRequest(f"A number in the JSON body has more than {digits} digits, more than "
                         "any field takes.")


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus two costs every request paid for nothing.

    Flask builds the cookie's signer on every request (and itsdangerous checks each new one by
    dumping an empty dict); here it is built once per set of keys. A request that brought no
    session cookie and left the session empty (every Bearer or anonymous API call) skips the
    cookie settings ``save_session`` looks up to decide that; ``Vary: Cookie`` is still added
    when the session was read.
    """

    def __init__(self) -> None:
        self._signers: dict = {}

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        signer = self._signers.get(keys)
        if signer is None:
            signer = self._signers[keys] = super().get_signing_serializer(app)
        return signer

    def save_session(self, app: Flask, session, response: Response) -> None:
        # Flask-Login reads the session after every request (its remember-cookie check), which
        # made Flask add Vary: Cookie to answers that never depended on it, such as the public
        # catalog. An answer varies by cookie when it asked who the user is or changed the
        # session.
        consulted = "_login_user" in g or session.modified
        if not session and not session.modified:
            if session.accessed and consulted:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
        if not consulted:
            response.vary.discard("Cookie")


def register_request_rules(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
    app.before_request(_require_json_body)
    app.after_request(_security_headers)
    app.after_request(_privacy_headers)
