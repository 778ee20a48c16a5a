"""Queuing mail into the outbox, and the unsubscribe links it carries.

A leaf: it renders and delivers what a domain gives it and imports none of them. Each mail's
context is built by the domain it belongs to (``accounts/emails.py``, ``badges/emails.py``,
``learning/reminders.py``); an unsubscribe is announced (``signals.unsubscribed``) for accounts
to turn the preference off.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import delete, insert, select, update

from ..dbutil import call_after_commit, dialect_insert
from ..errors import NotFound
from ..extensions import db
from ..signals import unsubscribed
from ..timeutil import isoformat, utcnow
from .models import MailCategory, MailStatus, OutboxMessage, UnsubscribeToken
from .transport import envelope_sender

log = logging.getLogger(__name__)

# The mail preferences a List-Unsubscribe link can turn off (accounts keeps their values).
PREFERENCES = ("reminders", "badges")
_PREFERENCE_OF_CATEGORY = {MailCategory.reminder: "reminders", MailCategory.badge: "badges"}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "email"),
    # body.html is escaped; subject.txt and body.txt are plain text and must not be.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    # A missing variable is a bug in the mail function: fail loudly, never mail a blank.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


class InvalidUnsubscribeToken(NotFound):
    """The link is unknown (not ours, mangled in transit, its account erased) or expired."""


def render_mail(name: str, context: dict) -> tuple[str, str, str]:
    """Render ``templates/email/<name>/`` into (subject, text body, HTML body)."""
    context = {"base_url": current_app.config["BASE_URL"], "unsubscribe_url": None, **context}
    raw_subject = _templates.get_template(f"{name}/subject.txt").render(context)
    # One line, whatever the template or a display name holds: a newline would forge headers.
    subject = " ".join(raw_subject.split())
    context["subject"] = subject
    text = _templates.get_template(f"{name}/body.txt").render(context)
    html = _templates.get_template(f"{name}/body.html").render(context)
    return subject, text, html


def queue_mail(name: str, to: str, context: dict, *, key: str, user_id: int | None = None,
               category: str = "account", unsubscribe: str | None = None) -> OutboxMessage | None:
    """Render a mail and add it to the outbox in the caller's transaction; flushes, never commits.

    ``key`` makes it exactly-once: if a row with this key exists (whatever its status) nothing
    is added and None is returned. ``category`` is ``account``, ``reminder`` or ``badge``; the
    last two carry List-Unsubscribe headers turning off ``unsubscribe`` (``reminders`` or
    ``badges``, by default the one matching the category) for ``user_id``, through a token
    of this mail's own (see ``make_unsubscribe_token``). Delivery is enqueued only once the
    caller's transaction commits.
    """
    if not to or "@" not in to:
        raise ValueError("queue_mail needs an address (an erased account has none)")
    category = MailCategory(category)
    headers: dict[str, str] = {}
    unsubscribe_url = None
    if category is MailCategory.account:
        if unsubscribe:
            raise ValueError("account mail carries no unsubscribe link")
    else:
        if user_id is None:
            raise ValueError(f"{category.value} mail needs user_id for its unsubscribe link")
        preference = unsubscribe or _PREFERENCE_OF_CATEGORY[category]
        _check_preference(preference)
        # Stored below only if this mail is added: a duplicate key leaves no token behind.
        unsubscribe_token = secrets.token_urlsafe(24)
        unsubscribe_url = _unsubscribe_url(unsubscribe_token)
        headers = {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    subject, text, html = render_mail(name, {**context, "unsubscribe_url": unsubscribe_url})
    session = db.session()
    statement = (
        dialect_insert(OutboxMessage)
        .values(key=key, user_id=user_id, to_address=to, category=category, template=name,
                subject=subject, text_body=text, html_body=html, headers=headers,
                message_id=_new_message_id(), status=MailStatus.pending, attempts=0,
                next_attempt_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage)
    )
    message = session.scalars(statement).first()
    if message is not None:
        if unsubscribe_url is not None:
            _store_unsubscribe_token(unsubscribe_token, user_id, preference)
        relay_after_commit()
    return message


def _new_message_id() -> str:
    # An explicit domain: make_msgid's default asks DNS for this host's name on every call.
    domain = envelope_sender(current_app.config["MAIL_FROM"]).rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


# -- enqueue the relay after commit --------------------------------------------------------------

def relay_after_commit() -> None:
    """Publish one ``relay_outbox`` when the current transaction commits; none on rollback."""
    call_after_commit("relay-outbox", _publish_relay)


def _publish_relay() -> None:
    from .tasks import relay_outbox

    # Expires: if workers are down for long, one relay is as good as a thousand stale ones.
    # A failed publish is logged by call_after_commit; beat relays the rows within a minute.
    relay_outbox.apply_async(expires=600)


# -- unsubscribe ---------------------------------------------------------------------------------

UNSUBSCRIBE_TOKEN_LIFETIME = timedelta(days=180)


def _hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _check_preference(category: str) -> None:
    if category not in PREFERENCES:
        raise ValueError(f"unknown unsubscribe category {category!r}")


def _store_unsubscribe_token(value: str, user_id: int, category: str) -> None:
    db.session.execute(insert(UnsubscribeToken).values(
        token_hash=_hash_token(value), user_id=user_id, preference=category, created_at=utcnow()))


def _unsubscribe_url(value: str) -> str:
    return f"{current_app.config['BASE_URL']}/unsubscribe/{value}"


def make_unsubscribe_token(user_id: int, category: str) -> str:
    """A new random token turning off ``category`` (``reminders`` | ``badges``) for the user.

    The link is an opaque random value, not a signed payload: nothing in it names the learner,
    so an access log or a forwarded mail that shows it shows no user id. The choices:

    - One token per mail, made by ``queue_mail`` when the mail is queued. A mail is rendered
      once and then sent as stored, with the same Message-ID, on every retry, so its link is
      stable across retries; a mail that is not added (its key exists) leaves no token behind.
    - Only the value's SHA-256 is stored, so a copy of ``unsubscribe_token`` unsubscribes no
      one (the rendered mail in ``outbox_message`` holds its link, as it must to be sent).
    - A token works for ``UNSUBSCRIBE_TOKEN_LIFETIME`` (180 days) from its creation, however
      often it is used, so someone reading an old mail can still follow it; after that, or
      when unknown, the page says the link is not valid and links to the settings page.
    - Erasing the account deletes its tokens (``forget_user``).
    - The signed (user, category) tokens of before are not read: the product had not launched.

    Flushes (the row is written at once), never commits.
    """
    _check_preference(category)
    value = secrets.token_urlsafe(24)
    _store_unsubscribe_token(value, user_id, category)
    return value


def unsubscribe_url_for(user_id: int, category: str) -> str:
    """The absolute link of a new token (see ``make_unsubscribe_token``)."""
    return _unsubscribe_url(make_unsubscribe_token(user_id, category))


def _find_token(value: str) -> UnsubscribeToken:
    row = db.session.scalar(select(UnsubscribeToken)
                            .where(UnsubscribeToken.token_hash == _hash_token(value)))
    if row is None or row.created_at <= utcnow() - UNSUBSCRIBE_TOKEN_LIFETIME:
        raise InvalidUnsubscribeToken("This unsubscribe link is not valid.")
    return row


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, category) of a live token; ``InvalidUnsubscribeToken`` if unknown or expired.
    Changes nothing."""
    row = _find_token(token)
    return row.user_id, row.preference


def unsubscribe(token: str) -> str:
    """Turn off the preference the token names (idempotent) and cancel such mail still pending;
    returns the category. Flushes; the caller commits."""
    row = _find_token(token)
    user_id, category = row.user_id, row.preference
    row.last_used_at = utcnow()
    unsubscribed.send(user_id, preference=category)
    mail_category = MailCategory.reminder if category == "reminders" else MailCategory.badge
    cancel_pending_for_user(user_id, category=mail_category.value)
    db.session.flush()
    return category


def cancel_pending_for_user(user_id: int, *, category: str | None = None) -> int:
    """Mark the user's pending mail (of one category, or all) cancelled; returns how many.
    Mail already being sent cannot be stopped."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.user_id == user_id, OutboxMessage.status == MailStatus.pending)
        .values(status=MailStatus.cancelled)
    )
    if category is not None:
        statement = statement.where(OutboxMessage.category == MailCategory(category))
    return db.session.execute(statement).rowcount


def forget_user(user_id: int) -> int:
    """For account erasure: delete the user's unsubscribe tokens, cancel pending mail and blank
    the address and contents of every row of the user, keeping keys and statuses so nothing is
    ever sent twice."""
    db.session.execute(delete(UnsubscribeToken).where(UnsubscribeToken.user_id == user_id))
    cancel_pending_for_user(user_id)
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.user_id == user_id)
        .values(to_address="", subject="", text_body="", html_body="", headers={},
                last_error=None)
    )
    return db.session.execute(statement).rowcount


def emails_of(user_id: int) -> list[dict]:
    """The learner's mail as the data export lists it, oldest first."""
    return [{
        "category": m.category.value, "subject": m.subject, "to": m.to_address,
        "status": m.status.value, "created_at": isoformat(m.created_at),
        "sent_at": isoformat(m.sent_at),
    } for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == user_id)
                                  .order_by(OutboxMessage.id))]
