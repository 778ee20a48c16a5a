"""Cookie sign-ins that the server can end: each one is a ``LoginSession`` row.

The session cookie and Flask-Login's remember cookie are signed, so on their own they stay
valid until they expire, whoever holds a copy. Both carry the user's alternative id
(``User.get_id``), which names a random key; a request signs in only while the key's row
exists, so signing out, a password change or a reset ends every copy of the cookie at once.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app, session
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, delete, select

from ..extensions import db
from ..timeutil import utcnow
from .models import LoginSession, User, secret_hash

# A sign-in without "remember me" lasts as long as the browser keeps its session cookie, but
# never more than this on the server; one with it, as long as the remember cookie.
SESSION_LIFETIME = timedelta(days=7)

_SIGNED_IN = (select(User)
              .join(LoginSession, LoginSession.user_id == User.id)
              .where(LoginSession.key_hash == bindparam("key_hash"),
                     User.id == bindparam("user_id"),
                     LoginSession.expires_at > bindparam("now")))


def _lifetime(remember: bool) -> timedelta:
    if remember:
        return current_app.config.get("REMEMBER_COOKIE_DURATION") or timedelta(days=365)
    return SESSION_LIFETIME


def sign_in(user: User, *, remember: bool = False) -> None:
    """Start a new cookie session for ``user``: nothing a visitor had before carries over."""
    now = utcnow()
    # Expired sign-ins of this learner go when a new one starts; nothing else accumulates.
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                                  LoginSession.expires_at <= now))
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_hash=secret_hash(key), remember=remember,
                                created_at=now, expires_at=now + _lifetime(remember)))
    db.session.commit()
    user.session_key = key
    session.clear()
    login_user(user, remember=remember)


def sign_out(user: User | None) -> None:
    """End this sign-in on the server and in the browser."""
    if user is not None and getattr(user, "session_key", None):
        db.session.execute(delete(LoginSession).where(
            LoginSession.key_hash == secret_hash(user.session_key)))
        db.session.commit()
    session.clear()
    logout_user()  # after clear: it leaves the note that tells Flask-Login to drop the remember cookie


def end_all(user: User) -> None:
    """Every cookie sign-in of ``user`` ends (within the caller's transaction)."""
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def load(alternative_id: str) -> User | None:
    """The user a session or remember cookie names, if that sign-in still stands."""
    user_id, _, rest = alternative_id.partition(":")
    version, _, key = rest.partition(":")
    if not (user_id.isdigit() and version.isdigit() and key):
        return None
    user = db.session.scalar(_SIGNED_IN, {"key_hash": secret_hash(key), "user_id": int(user_id),
                                          "now": utcnow()})
    if user is None or user.erased_at is not None or user.session_version != int(version):
        return None
    user.session_key = key
    return user
