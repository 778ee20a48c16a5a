"""Account rules: sign-up, sign-in, verification, password reset, tokens, profile, erasure."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..fields import normalise_email
from ..notifications.service import queue_mail, render_mail
from ..signals import learner_erased, schedule_changed
from ..timeutil import utcnow
from . import emails, sessions
from .models import (
    DEFAULT_TOKEN_DAYS,
    DEFAULT_TOKEN_SCOPES,
    TOKEN_SCOPES,
    AccessToken,
    User,
    secret_hash,
)
from .passwords import hash_password, needs_rehash, password_problem, verify_password

VERIFY_MAX_AGE = 48 * 3600
RESET_MAX_AGE = 3600
TOKEN_PREFIX = "hka_"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()[:16]


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


# -- sign-up and verification --------------------------------------------------------------------

def register(email: str, password: str, display_name: str, timezone: str) -> User:
    """Create an unverified account and queue its verification mail."""
    if user_by_email(email) is not None:
        raise Conflict("An account with this email address already exists; sign in or reset "
                       "the password.", errors={"email": ["Already registered."]})
    user = User(email=email, password_hash=hash_password(password), display_name=display_name,
                timezone=timezone)
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # a simultaneous sign-up with the same address won the race
        raise Conflict("An account with this email address already exists.",
                       errors={"email": ["Already registered."]}) from exc
    send_verification(user)
    return user


def verification_token(user: User) -> str:
    """The token of a ``/verify-email`` link: it works until the address changes."""
    return _serializer("verify-email").dumps({"u": user.id, "e": _fingerprint(user.email)})


def reset_token(user: User) -> str:
    """The token of a ``/reset-password`` link: it works until the password changes."""
    return _serializer("password-reset").dumps({"u": user.id, "p": _fingerprint(user.password_hash)})


def send_verification(user: User) -> None:
    if user.email_verified or user.email is None:
        return
    token = verification_token(user)
    # One mail per account per minute at most, whatever the clicks.
    minute = int(utcnow().timestamp() // 60)
    queue_mail("verify_email", user.email, emails.verify_email(user, token),
               key=f"verify:{user.id}:{minute}", user_id=user.id, category="account")


def _token_user(salt: str, token: str, max_age: int, what: str, field: str, value) -> User:
    """The user a signed mail link names, if it is fresh and still matches ``value(user)``."""
    invalid = Invalid(f"This {what} link is not valid or was already used; ask for a new one.",
                      errors={"token": ["Not valid."]})
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise Invalid(f"This {what} link has expired; ask for a new one.",
                      errors={"token": ["Expired."]}) from exc
    except BadSignature as exc:
        raise invalid from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.is_active or _fingerprint(value(user)) != data.get(field):
        raise invalid
    return user


def _account(user: User) -> str:
    return f"{user.email}\0{user.password_hash}"


# The signed links account mail carries: salt, lifetime, what the page calls it, and the value
# the link names (by fingerprint) so that it stops working once that value changes.
_LINKS = {
    "verify": ("verify-email", VERIFY_MAX_AGE, "verification", "e", lambda u: u.email),
    "reset": ("password-reset", RESET_MAX_AGE, "reset", "p", lambda u: u.password_hash),
    # The address and the password: a new password (a takeover undone) cancels the change.
    "change-email": ("change-email", VERIFY_MAX_AGE, "address change", "c", _account),
}


def link_user(kind: str, token: str) -> User:
    """The user a mail link (``verify``, ``reset``, ``change-email``) names, or ``Invalid``
    saying why it cannot work; changes nothing, so a link's page can say so at once."""
    salt, max_age, what, field, value = _LINKS[kind]
    return _token_user(salt, token, max_age, what, field, value)


def verify_email(token: str) -> User:
    user = link_user("verify", token)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


# -- sign-in ---------------------------------------------------------------------------------

def authenticate(email: str, password: str) -> User | None:
    """The user if the password matches; the same cost and answer whether or not the email exists."""
    user = user_by_email(email)
    usable = user is not None and user.is_active
    if not verify_password(user.password_hash if usable else None, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def end_other_sessions(user: User, *, keep_token: int | None = None) -> None:
    """Invalidate every session, remember cookie and access token the user has (but the token
    ``keep_token``, when the change was made with it)."""
    user.session_version += 1
    sessions.end_all(user)
    doomed = delete(AccessToken).where(AccessToken.user_id == user.id)
    if keep_token is not None:
        doomed = doomed.where(AccessToken.id != keep_token)
    db.session.execute(doomed)


# -- password reset ----------------------------------------------------------------------------

def request_password_reset(email: str) -> None:
    user = user_by_email(email)
    # Both branches pay for a password hash, a signed token and a rendered mail, so the
    # answer's timing does not tell who has an account (bench/enumeration.py measures it).
    hash_password(secrets.token_hex(8))
    if user is None or not user.is_active:
        token = _serializer("password-reset").dumps({"u": 0, "p": _fingerprint(email)})
        render_mail("password_reset", emails.password_reset(SimpleNamespace(display_name=""), token))
        return
    token = reset_token(user)
    minute = int(utcnow().timestamp() // 60)
    queue_mail("password_reset", user.email, emails.password_reset(user, token),
               key=f"reset:{user.id}:{minute}", user_id=user.id, category="account")


def confirm_password_reset(token: str, password: str) -> User:
    # The token names the password it replaces, so it works once: after use it no longer matches.
    user = link_user("reset", token)
    user.password_hash = hash_password(password)
    user.updated_at = utcnow()
    # Whoever could read the mailbox proved it; every other way in ends.
    end_other_sessions(user)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


# -- personal access tokens --------------------------------------------------------------------

def create_token(user_id: int, name: str, *, expires_in_days: int = DEFAULT_TOKEN_DAYS,
                 scopes=DEFAULT_TOKEN_SCOPES) -> tuple[AccessToken, str]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    chosen = [scope for scope in TOKEN_SCOPES if scope in set(scopes)]
    token = AccessToken(user_id=user_id, name=name, token_hash=secret_hash(secret),
                        prefix=secret[:10], scopes=" ".join(chosen), created_at=now,
                        expires_at=now + timedelta(days=expires_in_days))
    db.session.add(token)
    db.session.flush()
    return token, secret


def list_tokens(user_id: int, page: int, per_page: int) -> tuple[list[AccessToken], int]:
    query = select(AccessToken).where(AccessToken.user_id == user_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    items = db.session.scalars(query.order_by(AccessToken.id).limit(per_page)
                               .offset((page - 1) * per_page)).all()
    return list(items), total


def delete_token(user_id: int, token_id: int) -> None:
    token = db.session.get(AccessToken, token_id)
    if token is None or token.user_id != user_id:  # another learner's token does not exist for you
        raise NotFound("There is no such access token.")
    db.session.delete(token)


# -- profile -------------------------------------------------------------------------------

def update_profile(user: User, changes: dict) -> User:
    moved = any(field in changes and changes[field] != getattr(user, field)
                for field in ("timezone", "reminder_hour"))
    for field in ("display_name", "timezone", "reminder_hour"):
        if field in changes:
            setattr(user, field, changes[field])
    if moved:
        schedule_changed.send(user)
    prefs = changes.get("email_preferences") or {}
    if "reminders" in prefs:
        user.reminders_enabled = prefs["reminders"]
    if "badges" in prefs:
        user.badge_emails_enabled = prefs["badges"]
    user.updated_at = utcnow()
    return user


def change_password(user: User, password: str, *, keep_token: int | None = None) -> None:
    user.password_hash = hash_password(password)
    user.updated_at = utcnow()
    end_other_sessions(user, keep_token=keep_token)


def change_own_password(user: User, current: str, new: str, *,
                        keep_token: int | None = None) -> None:
    """A learner's own change: the current password proves it is them, the new one must be
    acceptable; every session, remember cookie and token ends (the caller signs this one in
    again). ``Invalid`` names the field that is wrong."""
    if not verify_password(user.password_hash, current):
        raise Invalid("The current password is not right.",
                      errors={"current_password": ["The current password is not right."]})
    problem = password_problem(new)
    if problem:
        raise Invalid(problem, errors={"new_password": [problem]})
    change_password(user, new, keep_token=keep_token)


# -- change of address -----------------------------------------------------------------------

def request_email_change(user: User, password: str, new_email: str) -> None:
    """Mail a confirmation link to ``new_email`` and tell the current address; nothing changes
    until the link is used. ``new_email`` is already normalised (the schema's ``Email``)."""
    if not verify_password(user.password_hash, password):
        raise Invalid("The password is not right.", errors={"password": ["Not right."]})
    if new_email == user.email:
        raise Invalid("That is already your address.", errors={"email": ["Already yours."]})
    if user_by_email(new_email) is not None:
        raise Conflict("Another account has this address.",
                       errors={"email": ["Already registered."]})
    token = _serializer("change-email").dumps(
        {"u": user.id, "e": new_email, "c": _fingerprint(_account(user))})
    minute = int(utcnow().timestamp() // 60)
    queue_mail("confirm_email_change", new_email, emails.confirm_email_change(token),
               key=f"change-email:{user.id}:{_fingerprint(new_email)}:{minute}",
               user_id=user.id, category="account")
    if user.email:
        queue_mail("email_change_requested", user.email,
                   emails.email_change_requested(user, new_email),
                   key=f"change-email-notice:{user.id}:{_fingerprint(new_email)}:{minute}",
                   user_id=user.id, category="account")


def confirm_email_change(token: str) -> User:
    """Replace the address with the one the link names; it works once (it names the address it
    replaces), and the new address counts as confirmed."""
    user = link_user("change-email", token)
    new_email = _serializer("change-email").loads(token)["e"]
    if user_by_email(new_email) is not None:
        raise Conflict("Another account has taken this address since the link was sent.",
                       errors={"token": ["The address is taken."]})
    user.email = new_email
    user.email_verified_at = utcnow()
    user.updated_at = utcnow()
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # taken at the same moment
        raise Conflict("Another account has taken this address.",
                       errors={"token": ["The address is taken."]}) from exc
    return user




def promote(email: str) -> User:
    user = user_by_email(email)
    if user is None or not user.is_active:
        raise NotFound(f"No account has the address {email!r}.")
    user.is_admin = True
    return user


def erase(user: User, password: str) -> None:
    """Erase personal data; anonymous learning rows stay so that counts stay right."""
    if not verify_password(user.password_hash, password):
        raise Invalid("The password is not right.", errors={"password": ["Not right."]})
    now = utcnow()
    # Each domain forgets or anonymises its own rows of the learner (their receivers).
    learner_erased.send(user.id)
    end_other_sessions(user)
    user.email = None
    user.email_verified_at = None
    user.display_name = ""
    user.password_hash = ""
    user.timezone = "UTC"
    user.reminders_enabled = False
    user.badge_emails_enabled = False
    user.is_admin = False
    user.erased_at = now
    user.updated_at = now
