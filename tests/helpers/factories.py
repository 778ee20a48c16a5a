"""Factories: rows built the way the services would build them, with sensible defaults."""
from __future__ import annotations

import itertools
from datetime import datetime

from academy.accounts.models import User
from academy.extensions import db
from academy.timeutil import utcnow

_seq = itertools.count(1)
# One real argon2id hash, computed once: factories must not pay the password cost per user.
PASSWORD = "correct horse battery staple"
_hash_cache: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    if password not in _hash_cache:
        from academy.accounts.passwords import hash_password

        _hash_cache[password] = hash_password(password)
    return _hash_cache[password]


def make_user(*, email: str | None = None, verified: bool = True, timezone: str = "UTC",
              password: str = PASSWORD, commit: bool = True, **fields) -> User:
    n = next(_seq)
    user = User(
        email=email or f"learner{n}@example.org",
        display_name=fields.pop("display_name", f"Learner {n}"),
        password_hash=password_hash(password),
        timezone=timezone,
        email_verified_at=utcnow() if verified else None,
        **fields,
    )
    db.session.add(user)
    db.session.flush()
    if commit:
        db.session.commit()
    return user


def at(value: str) -> datetime:
    """Naive UTC datetime from an ISO string with Z, as stored in the database."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
