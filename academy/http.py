"""Request and response rules shared by every endpoint."""
from __future__ import annotations

import re
import sys
from functools import cache

from flask import (
    Flask,
    Response,
    current_app,
    g,
    got_request_exception,
    request,
    request_finished,
    request_started,
    request_tearing_down,
)
from flask.globals import request_ctx
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from marshmallow import Schema
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.http import parse_etags

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# Request headers that make an answer conditional (or partial); without any of them, werkzeug's
# make_conditional would only add a Date header. The server adds Date (gunicorn always does,
# so one added here would make two), so the app never sends one.
_CONDITIONAL_KEYS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE",
                     "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE", "HTTP_RANGE")


# A public answer (the catalog: the same bytes for everyone, changed only by ``content sync``)
# may be stored by browsers and by a shared cache such as nginx for a minute, then revalidated
# with its ETag (a 304 when nothing changed). Content syncs are deploys: a minute of staleness
# behind a cache is the price of not asking the app at all meanwhile.
PUBLIC_CACHE_CONTROL = "public, max-age=60"


def conditional(response: Response, etag: str | None = None) -> Response:
    """Tag a public answer with a strong ETag and answer 304 to a matching If-None-Match.

    ``etag``, when given, is the answer's ETag computed beforehand (as ``add_etag`` would)."""
    if etag is None:
        response.add_etag()
    else:
        response.set_etag(etag)
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
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
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(app: Flask) -> tuple[tuple[str, str], ...]:
    """The headers every answer of ``app`` carries unless it set its own (an HTML page's CSP)."""
    if app.config.get("ACADEMY_ENV") == "production":
        return (*_SECURITY_HEADERS, ("Strict-Transport-Security", HSTS))
    return _SECURITY_HEADERS


# Answers about one learner: never stored by a shared cache, and keyed by who asked.
_PRIVATE_PREFIXES = ("/api/v1/me", "/api/v1/enrollments", "/api/v1/auth/", "/api/v1/admin/",
                     "/dashboard", "/settings", "/admin")
_PRIVATE_VARY = ("Authorization", "Cookie")


def _answer_headers(response: Response) -> Response:
    """Security headers on every answer, privacy headers on answers about a learner.

    One pass over the few headers present (``Headers.setdefault`` raises and catches a KeyError
    per missing header, and ``response.vary`` parses and rewrites Vary per addition)."""
    headers = response.headers
    present = {key.lower(): value for key, value in headers}
    for name, value in current_app.extensions["academy.security_headers"]:
        if name.lower() not in present:
            headers.add(name, value)
    if request.path.startswith(_PRIVATE_PREFIXES):
        headers["Cache-Control"] = "private, no-store"
        vary = present.get("vary")
        if vary is None:
            headers["Vary"] = ", ".join(_PRIVATE_VARY)
        else:
            listed = {item.strip().lower() for item in vary.split(",")}
            missing = [name for name in _PRIVATE_VARY if name.lower() not in listed]
            if missing:
                headers["Vary"] = ", ".join([vary, *missing])
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
    # Both checks bound what they look for by counts taken on the raw body (brackets inside
    # strings included, so never less than the real ones): a body that cannot hold such
    # nesting or such a number is not scanned.
    digits = sys.get_int_max_str_digits()
    deep = data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH
    long = digits and len(data) > digits
    if not (deep or long):
        return
    bare = _JSON_STRING.sub(b"", data)
    if deep and _depth(bare) > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
    if long and len(bare) > digits and _digits(digits + 1).search(bare):
        raise BadRequest(f"A number in the JSON body has more than {digits} digits, more than "
                         "any field takes.")


class ArgumentsParser(FlaskParser):
    """webargs' Flask parser (flask-smorest's), plus: an empty query string loads as the
    schema's defaults, worked out once per schema instance (views pass instances). Most list
    requests send no query; loading the schema for nothing cost more than the page's own
    statement does in Python."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._defaults: dict = {}

    def parse(self, argmap, req=None, *, location=None, validate=None, **kwargs):
        if (location == "query" and validate is None and isinstance(argmap, Schema)
                and not request.environ.get("QUERY_STRING")):
            defaults = self._defaults.get(argmap)
            if defaults is None:
                defaults = self._defaults[argmap] = super().parse(
                    argmap, req, location=location, **kwargs)
            return dict(defaults)
        return super().parse(argmap, req, location=location, validate=validate, **kwargs)


# -- who needs a session --------------------------------------------------------------------
# A request authenticated by its Authorization header is that header's alone: a browser never
# adds one by itself, and what a cookie says must not mix into it. And a public answer is the
# same for everyone. Neither kind reads the session cookie, unsigns it, loads a sign-in from
# it or writes one: it gets an empty session of its own, never saved (``Sessionless``), and
# Flask-Login's remember-cookie step is skipped for it (``accounts.auth``). Pages keep their
# session whatever they carry: a form's CSRF token and its notices live there.
_PUBLIC_PREFIXES = ("/api/v1/tracks", "/api/v1/careers")


def is_public(environ: dict) -> bool:
    """A read of the public catalog: the same answer for everyone, signed in or not."""
    return (environ["REQUEST_METHOD"] in ("GET", "HEAD")
            and environ.get("PATH_INFO", "").startswith(_PUBLIC_PREFIXES))


def _needs_no_session(environ: dict) -> bool:
    if "HTTP_AUTHORIZATION" in environ:
        return environ.get("PATH_INFO", "").startswith("/api/")
    return is_public(environ)


class Sessionless(SecureCookieSession):
    """The session of a request that has none: starts empty, is never read from nor written to
    a cookie. Writes to it (a CSRF token made for a Bearer client, say) go nowhere."""


def is_sessionless() -> bool:
    return isinstance(request_ctx.session, Sessionless)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus the costs requests paid for nothing.

    Flask builds the cookie's signer on every request (and itsdangerous checks each new one by
    dumping an empty dict); here it is built once per set of keys. Bearer and public requests
    get a ``Sessionless`` session (above). A request that brought no session cookie and left
    the session empty skips the cookie settings ``save_session`` looks up to decide that;
    ``Vary: Cookie`` is still added when the session was read.
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

    def open_session(self, app: Flask, request):
        if _needs_no_session(request.environ):
            return Sessionless()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response: Response) -> None:
        if isinstance(session, Sessionless):
            return
        # Flask-Login reads the session after every request (its remember-cookie check), which
        # made Flask add Vary: Cookie to answers that never depended on it. An answer varies by
        # cookie when it asked who the user is or changed the session.
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
    app.extensions["academy.security_headers"] = security_headers(app)
    app.before_request(_require_json_body)
    app.after_request(_answer_headers)


# -- prepared public answers --------------------------------------------------------------------
# Hooks every request runs, each of which does nothing for a public answer served by
# ``PreparedAnswers`` (a GET or HEAD of a public path with no query string, no Authorization
# header and, when CORS is on, no Origin): the router's redirect (none for a path the catalog
# names), the CORS preflight (OPTIONS only), bad bytes (a path the catalog named has none, and
# there is no query or form), the JSON body rule (bodies of writes only), the rate limiter
# (``_no_limits`` checks that none applies), CSRF (writes only), the Bearer check (no
# Authorization header), the cookie-write check (writes only); afterwards the security headers
# (sent as they are), Flask-Login's remember cookie (a public answer has no session), CORS
# (``Vary: Origin`` is sent as it is) and the limiter's headers and context (no limit).
_NOTHING_FOR_PUBLIC = frozenset({
    "academy.errors.answer_routing_redirect", "academy.cors._preflight",
    "academy.inputs._refuse_bad_bytes", "academy.http._require_json_body",
    "flask_limiter.extension.Limiter._check_request_limit",
    "flask_wtf.csrf.CSRFProtect.init_app.<locals>.csrf_protect",
    "academy.accounts.auth._authenticate_bearer", "academy.accounts.auth._protect_cookie_writes",
    "academy.http._answer_headers", "flask_limiter.extension.Limiter.__inject_headers",
    "flask_login.login_manager.LoginManager._update_remember_cookie",
    "academy.accounts.auth._update_remember_cookie", "academy.cors._cors_headers",
    "flask_limiter.extension.Limiter.__release_context",
    # The limiter's hooks as ``skip_limiter_where_no_limit_applies`` wraps them.
    "academy.http.skip_limiter_where_no_limit_applies.<locals>.only_where_limited.<locals>"
    ".hook_where_limited",
    # Teardowns of the database session, which a prepared answer never opens.
    "flask_sqlalchemy.extension.SQLAlchemy._teardown_session", "academy._close_session",
})
# Conditional or partial requests other than If-None-Match go through Flask (werkzeug's rules).
_OTHER_CONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE",
                     "HTTP_IF_RANGE", "HTTP_RANGE")


def _hook_name(function) -> str:
    function = getattr(function, "func", function)  # functools.partial
    return f"{function.__module__}.{function.__qualname__}"


class PreparedAnswers:
    """WSGI middleware: a public answer whose bytes are ready is sent before Flask sees the
    request, with no request context, session, sign-in, rate limit or database work.

    ``lookup(path)`` gives ``(body, etag)`` for a public path when its bytes are prepared and
    current (the catalog cache), else None; every other request, and every one of those that
    is conditional in another way than ``If-None-Match``, carries a query string, an
    ``Authorization`` header or (with CORS on) an ``Origin``, goes to Flask as before. The
    answer is the one Flask would give: the same body, ``ETag``, ``Cache-Control``, security
    headers, 304 to a matching ``If-None-Match`` (weak comparison, as werkzeug's), and no
    ``Set-Cookie`` or ``Vary: Cookie``.

    That holds only while every hook the app runs does nothing for such an answer
    (``_NOTHING_FOR_PUBLIC``), no rate limit applies to ``endpoints`` and no signal receiver
    waits for requests: checked at the first request, and otherwise everything goes to Flask
    (and a warning says which hook is unknown). A hook added later (a request id, a log line,
    a metric) turns this off until it is taught the answer here.
    """

    def __init__(self, app: Flask, lookup, endpoints: tuple[str, ...]) -> None:
        self.app = app
        self.next = app.wsgi_app
        self.lookup = lookup
        self.endpoints = endpoints
        self.ready: bool | None = None
        self.headers: list[tuple[str, str]] = []
        self.cors = False

    def __call__(self, environ, start_response):
        if (environ["REQUEST_METHOD"] in ("GET", "HEAD") and not environ.get("QUERY_STRING")
                and "HTTP_AUTHORIZATION" not in environ
                and (self.ready or (self.ready is None and self._prepare()))
                and not (self.cors and "HTTP_ORIGIN" in environ)
                and not any(key in environ for key in _OTHER_CONDITIONS)):
            answer = self.lookup(environ["PATH_INFO"])
            if answer is not None:
                return self._send(environ, start_response, *answer)
        return self.next(environ, start_response)

    def _send(self, environ, start_response, body: bytes, etag: str):
        quoted = f'"{etag}"'
        matches = environ.get("HTTP_IF_NONE_MATCH")
        if matches and parse_etags(matches).contains_weak(etag):
            start_response("304 NOT MODIFIED", [("ETag", quoted), *self.headers])
            return [b""]
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), ("ETag", quoted),
                                  *self.headers])
        return [b""] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _prepare(self) -> bool:
        app = self.app
        unknown = sorted(self._unknown_hooks())
        if unknown:
            app.logger.warning("prepared public answers are off: %s may do something for them",
                               ", ".join(unknown))
        self.cors = bool(app.config.get("CORS_ORIGINS"))
        self.headers = [("Cache-Control", PUBLIC_CACHE_CONTROL),
                        *(("Vary", "Origin"),) * self.cors,
                        *app.extensions["academy.security_headers"]]
        self.ready = not unknown
        return self.ready

    def _unknown_hooks(self):
        app = self.app
        blueprints = {None, *(endpoint.rpartition(".")[0] for endpoint in self.endpoints)}
        registries = (app.before_request_funcs, app.after_request_funcs,
                      app.teardown_request_funcs, app.url_value_preprocessors)
        for registry in registries:
            for blueprint in blueprints:
                for function in registry.get(blueprint, ()):
                    if _hook_name(function) not in _NOTHING_FOR_PUBLIC:
                        yield _hook_name(function)
        for function in app.teardown_appcontext_funcs:
            if _hook_name(function) not in _NOTHING_FOR_PUBLIC:
                yield _hook_name(function)
        for signal in (request_started, request_finished, request_tearing_down,
                       got_request_exception):
            if signal.receivers:
                yield f"a receiver of {signal.name}"
        if app.extensions.get("limiter"):
            yield from self._limits()

    def _limits(self):
        from flask_limiter.util import get_qualified_name

        from .extensions import limiter

        if getattr(limiter, "_meta_limits", None):
            yield "the rate limiter's meta limits"
        manager = limiter.limit_manager
        with self.app.app_context():
            for endpoint in self.endpoints:
                view = self.app.view_functions.get(endpoint)
                blueprint = endpoint.rpartition(".")[0]
                for in_middleware in (True, False):
                    if any(manager.resolve_limits(self.app, endpoint, blueprint,
                                                  get_qualified_name(view) if view else None,
                                                  in_middleware=in_middleware)):
                        yield f"a rate limit on {endpoint}"
                        break


# -- the rate limiter, where a limit applies ----------------------------------------------------
# Flask-Limiter's three hooks (before: resolve and count the request's limits; after: its headers
# and conditional deductions; teardown: its context) cost a request that no limit applies to
# about 150 µs in production, more than the rest of the pipeline. Whether one applies to an
# endpoint is the limiter's own answer (``resolve_limits``: application, default, blueprint and
# decorated limits), worked out once per endpoint; what can change while the process runs
# (limits hinted at run time, the in-memory fallback's limits while storage is down, meta
# limits) is checked on every request. Where a limit applies, all three hooks run as before.

def skip_limiter_where_no_limit_applies(app: Flask) -> None:
    from flask_limiter.util import get_qualified_name

    from .extensions import limiter

    if not app.extensions.get("limiter"):
        return  # limits off (ACADEMY_RATE_LIMITS=off): the limiter registered no hook
    manager = limiter.limit_manager
    resolved: dict[str | None, bool] = {}

    def applies() -> bool:
        endpoint = request.endpoint
        if (limiter._meta_limits or manager.has_hints(endpoint or "")
                or (limiter._storage_dead and limiter._in_memory_fallback)):
            return True
        found = resolved.get(endpoint)
        if found is None:
            view = current_app.view_functions.get(endpoint or "")
            name = get_qualified_name(view) if view else ""
            found = resolved[endpoint] = name in limiter._marked_for_limiting or any(
                any(manager.resolve_limits(current_app, endpoint, request.blueprint, name,
                                           in_middleware=in_middleware))
                for in_middleware in (True, False))
        return found

    def only_where_limited(hook, passthrough):
        def hook_where_limited(*args):
            return hook(*args) if applies() else passthrough(*args)
        return hook_where_limited

    for registry, default in ((app.before_request_funcs, lambda: None),
                              (app.after_request_funcs, lambda response: response),
                              (app.teardown_request_funcs, lambda exc=None: None)):
        hooks = registry.get(None, [])
        for index, hook in enumerate(hooks):
            if _hook_name(hook).startswith("flask_limiter."):
                hooks[index] = only_where_limited(hook, default)
