"""Queuing mail into the outbox, and the unsubscribe links it carries.

A leaf: it renders and delivers what a domain gives it and imports none of them. Each mail's
context is built by the domain it belongs to (``accounts/emails.py``, ``badges/emails.py``,
``learning/reminders.py``); an unsubscribe is announced (``signals.unsubscribed``) for accounts
to turn the preference off.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import JSON, Text, bindparam, cast, delete, func, literal_column, select, update

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


_PARTS = ("subject.txt", "body.txt", "body.html")


def _compiled(name: str, cache: dict | None = None) -> tuple:
    """The three templates of ``name``; ``cache`` keeps them for the rest of one batch."""
    if cache is not None and name in cache:
        return cache[name]
    templates = tuple(_templates.get_template(f"{name}/{part}") for part in _PARTS)
    if cache is not None:
        cache[name] = templates
    return templates


def render_mail(name: str, context: dict, *, _cache: dict | None = None) -> tuple[str, str, str]:
    """Render ``templates/email/<name>/`` into (subject, text body, HTML body)."""
    subject_template, text_template, html_template = _compiled(name, _cache)
    context = {"base_url": current_app.config["BASE_URL"], "unsubscribe_url": None, **context}
    raw_subject = subject_template.render(context)
    # One line, whatever the template or a display name holds: a newline would forge headers.
    subject = " ".join(raw_subject.split())
    context["subject"] = subject
    text = text_template.render(context)
    html = html_template.render(context)
    return subject, text, html


@dataclass(frozen=True, slots=True)
class Mail:
    """One mail for ``queue_mails``: the arguments ``queue_mail`` takes, as a value."""

    name: str
    to: str
    context: dict
    key: str
    user_id: int | None = None
    category: str = "account"
    unsubscribe: str | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    row: dict  # the outbox row's values
    token: tuple[str, int, str] | None  # (value, user id, preference) of its unsubscribe link


def _prepare(mail: Mail, message_domain: str, cache: dict | None = None) -> _Prepared:
    """Check a mail, give it its unsubscribe token (if any) and render it: the row to insert."""
    if not mail.to or "@" not in mail.to:
        raise ValueError("queue_mail needs an address (an erased account has none)")
    category = MailCategory(mail.category)
    headers: dict[str, str] = {}
    unsubscribe_url = token = None
    if category is MailCategory.account:
        if mail.unsubscribe:
            raise ValueError("account mail carries no unsubscribe link")
    else:
        if mail.user_id is None:
            raise ValueError(f"{category.value} mail needs user_id for its unsubscribe link")
        preference = mail.unsubscribe or _PREFERENCE_OF_CATEGORY[category]
        _check_preference(preference)
        # Stored only if this mail is added: a duplicate key leaves no token behind.
        token = (secrets.token_urlsafe(24), mail.user_id, preference)
        unsubscribe_url = _unsubscribe_url(token[0])
        headers = {
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    subject, text, html = render_mail(mail.name, {**mail.context, "unsubscribe_url": unsubscribe_url},
                                      _cache=cache)
    now = utcnow()
    row = dict(key=mail.key, user_id=mail.user_id, to_address=mail.to, category=category,
               template=mail.name, subject=subject, text_body=text, html_body=html,
               headers=headers, message_id=make_msgid(domain=message_domain),
               status=MailStatus.pending, attempts=0, next_attempt_at=now, created_at=now)
    return _Prepared(row, token)


def queue_mail(name: str, to: str, context: dict, *, key: str, user_id: int | None = None,
               category: str = "account", unsubscribe: str | None = None) -> OutboxMessage | None:
    """Render a mail and add it to the outbox in the caller's transaction; flushes, never commits.

    ``key`` makes it exactly-once: if a row with this key exists (whatever its status) nothing
    is added and None is returned. ``category`` is ``account``, ``reminder`` or ``badge``; the
    last two carry List-Unsubscribe headers turning off ``unsubscribe`` (``reminders`` or
    ``badges``, by default the one matching the category) for ``user_id``, through a token
    of this mail's own (see ``make_unsubscribe_token``). Delivery is enqueued only once the
    caller's transaction commits. Many mails at once: ``queue_mails``.
    """
    prepared = _prepare(Mail(name, to, context, key, user_id, category, unsubscribe),
                        _message_domain())
    statement = (
        dialect_insert(OutboxMessage).values(**prepared.row)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage)
    )
    message = db.session.scalars(statement).first()
    if message is not None:
        if prepared.token is not None:
            _store_unsubscribe_tokens([prepared.token])
        relay_after_commit()
    return message


def queue_mails(mails: Sequence[Mail]) -> set[str]:
    """``queue_mail`` for many mails in two statements, whatever their number; returns the keys
    of the mails added (a key already in the outbox adds nothing, as there).

    One multi-row ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING key``, then one multi-row
    INSERT of the unsubscribe tokens of the mails it added, so a mail not added leaves no token
    behind (both through ``_insert_many``). Each template is looked up once per call. Rows are
    written in key order: two transactions queuing overlapping keys wait for each other in one
    direction only, never in a circle. Flushes, never commits; one relay is published after
    the caller's commit.
    """
    if not mails:
        return set()
    if len({mail.key for mail in mails}) != len(mails):
        raise ValueError("queue_mails was given the same key twice")
    domain, cache = _message_domain(), {}
    prepared = [_prepare(mail, domain, cache) for mail in sorted(mails, key=lambda m: m.key)]
    table = OutboxMessage.__table__
    added = set(_insert_many(table, [p.row for p in prepared], table.c.key, conflict="key"))
    if added:
        _store_unsubscribe_tokens([p.token for p in prepared
                                   if p.token is not None and p.row["key"] in added])
        relay_after_commit()
    return added


# One statement per (database, table, columns, conflict key), built on first use.
_INSERT_MANY: dict = {}


def _insert_many(table, rows: list[dict], returning, conflict: str | None = None) -> list:
    """INSERT every row of ``rows`` (dicts with the same keys) in one statement, skipping rows
    whose ``conflict`` column value exists; returns ``returning`` of each row added.

    On PostgreSQL the rows travel as one JSON document, ``INSERT … SELECT … FROM
    json_populate_recordset(NULL::<table>, :rows)``, which PostgreSQL reads into the table's
    own column types. Measured on a sweep batch of 500 mails, the two alternatives cost more
    CPU than everything else in ``queue_mails``: the VALUES list SQLAlchemy writes (its
    "insertmanyvalues", 7,000 placeholders) is longer than psycopg caches, so psycopg parsed
    it again on every run (28% of the sweep's CPU); one array per column (``unnest``) made
    psycopg escape each mail body with a regular expression, quote by quote. Elsewhere
    (SQLite) the VALUES list it is. Rows go in in the order given.
    """
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    names = tuple(rows[0])
    cache_key = (dialect, table.name, names, conflict)
    statement = _INSERT_MANY.get(cache_key)
    if statement is None:
        if dialect == "postgresql":
            source = func.json_populate_recordset(
                literal_column(f"NULL::{table.name}"), cast(bindparam("rows", type_=Text), JSON),
            ).table_valued(*names)
            statement = dialect_insert(table).from_select(names, select(*source.c))
        else:
            statement = dialect_insert(table)
        if conflict is not None:
            statement = statement.on_conflict_do_nothing(index_elements=[conflict])
        statement = _INSERT_MANY[cache_key] = statement.returning(returning)
    if dialect == "postgresql":
        document = json.dumps(rows, default=_json_value, ensure_ascii=False)
        return list(db.session.scalars(statement, {"rows": document}))
    return list(db.session.scalars(statement, rows))


def _json_value(value):
    # Naive UTC datetimes, read back by PostgreSQL as ``timestamp without time zone``.
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value _insert_many knows")


def _message_domain() -> str:
    # An explicit domain: make_msgid's default asks DNS for this host's name on every call.
    return envelope_sender(current_app.config["MAIL_FROM"]).rpartition("@")[2] or "localhost"


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


def _store_unsubscribe_tokens(tokens: list[tuple[str, int, str]]) -> None:
    """Store (value, user id, preference) tokens, hashed: one multi-row INSERT however many."""
    created = utcnow()
    table = UnsubscribeToken.__table__
    _insert_many(table, [{"token_hash": _hash_token(value), "user_id": user_id,
                          "preference": preference, "created_at": created}
                         for value, user_id, preference in tokens], table.c.id)


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
    _store_unsubscribe_tokens([(value, user_id, category)])
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
