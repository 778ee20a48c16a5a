"""Users and their personal access tokens."""
from __future__ import annotations

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

DEFAULT_REMINDER_HOUR = 18


def secret_hash(secret: str) -> str:
    """How a random secret we hand out is stored (access tokens, sign-in keys): its SHA-256.
    They are 256 random bits, so a fast hash is enough and lookups stay exact."""
    return hashlib.sha256(secret.encode()).hexdigest()


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; NULL once the account is erased.
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    email_verified_at: Mapped[datetime | None]
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    reminder_hour: Mapped[int] = mapped_column(default=DEFAULT_REMINDER_HOUR)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    badge_emails_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by a password change, reset or erasure: every older session and remember cookie dies.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None]

    # The sign-in (``LoginSession``) this request came with; set by ``sessions``.
    session_key = None

    def get_id(self) -> str:
        # Flask-Login's "alternative id", kept in the session and the remember cookie: it names
        # the account version and the server-side sign-in, so that ending either ends the cookie.
        return f"{self.id}:{self.session_version}:{self.session_key or ''}"

    @property
    def is_active(self) -> bool:
        return self.erased_at is None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class LoginSession(db.Model):
    """One sign-in with a cookie: it works while this row exists and has not expired.

    Signing out deletes it, so a copied session or remember cookie stops working at once,
    even though both are signed and would otherwise stay valid until they expire."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # SHA-256 of the random key the cookie carries: the table alone signs nobody in.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# What a personal access token may do. ``learning``: read the catalog, enroll, record progress,
# read and edit the profile and export. ``account``: also manage tokens, change the password or
# the address, delete the account. ``admin``: the admin endpoints, for an admin's token. A
# session cookie may do everything its user may.
TOKEN_SCOPES = ("learning", "account", "admin")
DEFAULT_TOKEN_SCOPES = ("learning",)
DEFAULT_TOKEN_DAYS = 90


class AccessToken(db.Model):
    __tablename__ = "access_token"
    __table_args__ = (Index("ix_access_token_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and lookups are exact.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    # Space-separated ``TOKEN_SCOPES``.
    scopes: Mapped[str] = mapped_column(String(100), default="learning")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()
