"""Password hashing with argon2id at or above OWASP's minimum (19 MiB, t=2, p=1)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so a miss costs the same as a wrong password.
_DUMMY_HASH = _hasher.hash("no account has this password, it only costs time")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


MIN_LENGTH, MAX_LENGTH = 10, 1024


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    path = Path(__file__).with_name("common-passwords.txt")
    return frozenset(line.strip() for line in path.read_text().splitlines()
                     if line.strip() and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None: length, and the most common passwords."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"Use between {MIN_LENGTH} and {MAX_LENGTH} characters."
    if password.strip().lower() in _common():
        return "This is one of the most common passwords; choose one that is yours alone."
    return None
