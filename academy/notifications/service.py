"""Queuing mail into the outbox, and the unsubscribe links it carries.

A leaf: it renders and delivers what a domain gives it and imports none of them. Each mail's
context is built by the domain it belongs to (``accounts/emails.py``, ``badges/emails.py``,
``learning/reminders.py``); an unsubscribe is announced (``signals.unsubscribed``) for accounts
to turn the preference off.
"""
from __future__ import annotations

import logging
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, update

from ..dbutil import call_after_commit, dialect_insert
from ..errors import NotFound
from ..extensions import db
from ..signals import unsubscribed
from ..timeutil import isoformat, utcnow
from .models import MailCategory, MailStatus, OutboxMessage
from .transport import envelope_sender

log = logging.getLogger(__name__)

# The mail preferences a List-Unsubscribe link can turn off (accounts keeps their values).
PREFERENCES = ("reminders", "badges")
_PREFERENCE_OF_CATEGORY = {MailCategory.reminder: "reminders", MailCategory.badge: "badges"}
_UNSUBSCRIBE_SALT = "academy.notifications.unsubscribe"

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
    """The link was not made by us (or was mangled in transit)."""


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
    ``badges``, by default the one matching the category) for ``user_id``. Delivery is
    enqueued only once the caller's transaction commits.
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
        unsubscribe_url = unsubscribe_url_for(user_id, preference)
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

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def make_unsubscribe_token(user_id: int, category: str) -> str:
    """A signed token naming (user, ``reminders`` | ``badges``); it never expires, as links in
    old mail must keep working."""
    if category not in PREFERENCES:
        raise ValueError(f"unknown unsubscribe category {category!r}")
    return _serializer().dumps([int(user_id), category])


def unsubscribe_url_for(user_id: int, category: str) -> str:
    base = current_app.config["BASE_URL"]
    return f"{base}/unsubscribe/{make_unsubscribe_token(user_id, category)}"


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, category) from a token; ``InvalidUnsubscribeToken`` if it is not ours."""
    try:
        user_id, category = _serializer().loads(token)
    except (BadData, TypeError, ValueError):
        raise InvalidUnsubscribeToken("This unsubscribe link is not valid.") from None
    if not isinstance(user_id, int) or category not in PREFERENCES:
        raise InvalidUnsubscribeToken("This unsubscribe link is not valid.")
    return user_id, category


def unsubscribe(token: str) -> str:
    """Turn off the preference the token names (idempotent) and cancel such mail still pending;
    returns the category. Flushes; the caller commits."""
    user_id, category = read_unsubscribe_token(token)
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
    """For account erasure: cancel pending mail and blank the address and contents of every
    row of the user, keeping keys and statuses so nothing is ever sent twice."""
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
