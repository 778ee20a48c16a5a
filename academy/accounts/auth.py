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
    row = db.session.execute(_TOKEN_USER, {"token_hash": secret_hash(secret.strip())}).first()
    if row is None or not row[0].is_active:
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
    allowed = {request.host_url.rstrip("/"), current_app.config["BASE_URL"],
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


def register_auth(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRF-Token"])
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    login_manager.init_app(app)
    login_manager.session_protection = None  # sessions are renewed at login and versioned instead
    csrf.init_app(app)
    app.before_request(_authenticate_bearer)
    app.before_request(_protect_cookie_writes)
