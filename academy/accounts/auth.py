"""Who is asking: a Flask-Login session cookie, or a personal access token as ``Bearer``.

Cookie-authenticated writes must carry ``X-CSRF-Token``; Bearer requests need none, because a
browser never attaches an ``Authorization`` header on its own.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from flask_login import current_user
from sqlalchemy import bindparam, select, update

from ..errors import Forbidden, Unauthorized
from ..extensions import csrf, db, login_manager
from ..timeutil import utcnow
from .models import AccessToken, User

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# A token's last use is recorded at most this often, so reads do not turn into writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)


# The token's user and what the bearer check needs of the token, in one round trip; built once,
# as it runs on every Bearer request.
_TOKEN_USER = (select(User, AccessToken.id, AccessToken.last_used_at)
               .join(AccessToken, AccessToken.user_id == User.id)
               .where(AccessToken.token_hash == bindparam("token_hash")))


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@login_manager.user_loader
def load_user(alternative_id: str) -> User | None:
    user_id, _, version = alternative_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.erased_at is not None or user.session_version != int(version):
        return None
    return user


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
    row = db.session.execute(_TOKEN_USER, {"token_hash": hash_token(secret.strip())}).first()
    if row is None or not row[0].is_active:
        raise Unauthorized("That access token is not valid.")
    user, token_id, last_used_at = row
    now = utcnow()
    if last_used_at is None or now - last_used_at > LAST_USED_GRANULARITY:
        # One statement that stands alone: allowed, and committed at once, in a read request.
        db.session.execute(update(AccessToken).where(AccessToken.id == token_id)
                           .values(last_used_at=now)
                           .execution_options(synchronize_session=False, single_write=True))
        db.session.commit()
    g.auth_method = "token"
    # Flask-Login keeps the request's user here; the session cookie is not consulted at all.
    g._login_user = user


def _same_origin(origin: str) -> bool:
    allowed = {request.host_url.rstrip("/"), current_app.config["BASE_URL"]}
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in allowed


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
