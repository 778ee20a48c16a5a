"""Who is asking: a Flask-Login session cookie, or a personal access token as ``Bearer``.

Cookie-authenticated writes must carry ``X-CSRF-Token``; Bearer requests need none, because a
browser never attaches an ``Authorization`` header on its own.
"""
from __future__ import annotations

import functools
from datetime import timedelta
from urllib.parse import urlsplit

import flask_login
from flask import Flask, current_app, g, request
from flask_login import current_user
from sqlalchemy import bindparam, select, update

from .. import apidocs
from ..errors import Forbidden, Unauthorized
from ..extensions import csrf, db, login_manager
from ..http import is_sessionless
from ..timeutil import isoformat, utcnow
from . import sessions
from .models import AccessToken, User, secret_hash

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# A token's last use is recorded at most this often, so reads do not turn into writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)


# The token's user and what the bearer check needs of the token, in one round trip; built once,
# as it runs on every Bearer request.
_TOKEN_USER = (select(User, AccessToken.id, AccessToken.last_used_at, AccessToken.expires_at,
                      AccessToken.scopes)
               .join(AccessToken, AccessToken.user_id == User.id)
               .where(AccessToken.token_hash == bindparam("token_hash")))


class Learner:
    """Who a Bearer request is, as the views marked ``learner_view`` need it: the user's id,
    the time zone and reminder hour that progress and reminders are computed in, and what
    Flask-Login asks. One Core row, no ORM entity: loading the ``User`` entity cost the bearer
    check 40% of its time. Any other attribute is an AttributeError, never a silent default."""

    __slots__ = ("id", "timezone", "reminder_hour", "is_admin", "session_version")
    is_authenticated = True
    is_active = True
    is_anonymous = False
    session_key = None

    def __init__(self, id, timezone, reminder_hour, is_admin, session_version):  # noqa: A002
        self.id, self.timezone, self.reminder_hour = id, timezone, reminder_hour
        self.is_admin, self.session_version = is_admin, session_version

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}:"


_u, _a = User.__table__.c, AccessToken.__table__.c
_TOKEN_LEARNER = (select(_u.id, _u.timezone, _u.reminder_hour, _u.is_admin, _u.session_version,
                         _u.erased_at, _a.id, _a.last_used_at, _a.expires_at, _a.scopes)
                  .select_from(AccessToken.__table__.join(User.__table__, _u.id == _a.user_id))
                  .where(_a.token_hash == bindparam("token_hash")))
LEARNER_VIEW = "academy_learner_view"


def learner_view(view):
    """Mark a view that needs of the signed-in user only what ``Learner`` holds: a Bearer
    request to it loads that row instead of the ``User`` entity. The mark travels out through
    ``functools.wraps`` (which copies ``__dict__``) to the function the route holds."""
    setattr(view, LEARNER_VIEW, True)
    return view


def _token_row(secret_hash_: str):
    """(user or Learner, token id, last used, expires, scopes), or None for no active user."""
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, LEARNER_VIEW, False):
        row = db.session.execute(_TOKEN_LEARNER, {"token_hash": secret_hash_}).first()
        if row is None or row[5] is not None:
            return None
        return (Learner(*row[:5]), *row[6:])
    row = db.session.execute(_TOKEN_USER, {"token_hash": secret_hash_}).first()
    if row is None or not row[0].is_active:
        return None
    return tuple(row)


@login_manager.user_loader
def load_user(alternative_id: str) -> User | None:
    return sessions.load(alternative_id)


@login_manager.unauthorized_handler
def unauthorized():
    raise Unauthorized("Sign in first: a session cookie from /api/v1/auth/login, "
                       "or Authorization: Bearer <token>.")


def _authenticate_bearer() -> None:
    header = request.headers.get("Authorization")
    # A path or method that does not exist answers 404 or 405, signed in or not.
    if header is None or request.routing_exception is not None:
        g.auth_method = None
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'.")
    row = _token_row(secret_hash(secret.strip()))
    if row is None:
        raise Unauthorized("That access token is not valid.")
    user, token_id, last_used_at, expires_at, scopes = row
    now = utcnow()
    if expires_at <= now:
        raise Unauthorized(f"That access token expired at {isoformat(expires_at)}; create a new one.")
    if last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY:
        # One statement that stands alone: allowed, and committed at once, in a read request.
        db.session.execute(update(AccessToken).where(AccessToken.id == token_id)
                           .values(last_used_at=now)
                           .execution_options(synchronize_session=False, single_write=True))
        db.session.commit()
    g.auth_method = "token"
    g.token_id = token_id
    g.token_scopes = frozenset(scopes.split())
    # Flask-Login keeps the request's user here; the session cookie is not consulted at all.
    g._login_user = user


def require_scope(scope: str) -> None:
    """A token must have been created with ``scope`` for this; a session cookie may do it all."""
    if g.get("auth_method") == "token" and scope not in g.token_scopes:
        raise Forbidden(f"This access token lacks the '{scope}' scope that this needs; create "
                        f"one with it, or sign in.")


def scoped(scope: str):
    """View decorator: ``require_scope(scope)`` before the view runs."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            require_scope(scope)
            return view(*args, **kwargs)
        return apidocs.mark(wrapper, scope=scope)
    return decorator


def login_required(view):
    """Flask-Login's ``login_required``, marked so the OpenAPI document says who may call."""
    return apidocs.mark(flask_login.login_required(view), signed_in=True)


def _same_origin(origin: str) -> bool:
    """Our own origin, or a front-end ``ACADEMY_CORS_ORIGINS`` lets call the API."""
    base = urlsplit(current_app.config["BASE_URL"])  # its origin: a prefix is not part of it
    allowed = {request.host_url.rstrip("/").lower(), f"{base.scheme}://{base.netloc}".lower(),
               *current_app.config.get("CORS_ORIGINS", ())}
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}".lower() in allowed


def _protect_cookie_writes() -> None:
    if request.method not in _UNSAFE or not request.path.startswith("/api/"):
        return
    if g.get("auth_method") == "token":
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null" and not _same_origin(origin):
        # Also stops login CSRF: a foreign page cannot post credentials on the user's behalf.
        raise Forbidden("Cross-site requests are not accepted.")
    if current_user.is_authenticated:
        g.auth_method = "session"
        csrf.protect()


def _update_remember_cookie(response):
    """Flask-Login's remember-cookie step, for requests that have a session: a Bearer or
    public request has none to set the cookie from (``http.Sessionless``)."""
    if is_sessionless():
        return response
    return login_manager._update_remember_cookie(response)


def _replace_hook(hooks: list, old, new) -> None:
    hooks[hooks.index(old)] = new


def register_auth(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRF-Token"])
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are renewed at login and versioned instead
    _replace_hook(app.after_request_funcs[None], login_manager._update_remember_cookie,
                  _update_remember_cookie)
    csrf.init_app(app)
    if not app.config["WTF_CSRF_CHECK_DEFAULT"]:
        # CSRFProtect's own before_request checks nothing unless CHECK_DEFAULT is on: tokens
        # are checked where they apply (``_protect_cookie_writes``, ``web.guard``).
        app.before_request_funcs[None] = [
            hook for hook in app.before_request_funcs[None]
            if getattr(hook, "__qualname__", "") != "CSRFProtect.init_app.<locals>.csrf_protect"]
    app.before_request(_authenticate_bearer)
    app.before_request(_protect_cookie_writes)
