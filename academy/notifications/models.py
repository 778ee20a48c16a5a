"""The mail outbox (one row per message, written in the transaction that causes it) and the
unsubscribe tokens its links carry."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class MailCategory(str, enum.Enum):
    account = "account"
    reminder = "reminder"
    badge = "badge"


class MailStatus(str, enum.Enum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class OutboxMessage(db.Model):
    """A rendered mail waiting for (or done with) delivery; its bytes never change after queuing."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        # The relay's claim: "pending rows due now", and "sending rows whose lease ran out".
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_message_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key: ``verify:<user>:<minute>`` and ``reset:<user>:<minute>`` (one a minute),
    # ``reminder:<user>:<local day>`` (one mail a learner a local day, whatever its stages),
    # ``badge:<award>``: a second queue_mail with the same key adds nothing, ever.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # SET NULL, not CASCADE: the key must outlive the user so the mail is never sent twice.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    to_address: Mapped[str] = mapped_column(String(320))
    category: Mapped[MailCategory] = mapped_column(
        Enum(MailCategory, name="mail_category", native_enum=False, length=16)
    )
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(998))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Fixed at creation and reused on every retry, so receivers can drop duplicates.
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, name="mail_status", native_enum=False, length=16),
        default=MailStatus.pending,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # While ``sending``: the claiming worker's lease; after it, another worker may take the row.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class UnsubscribeToken(db.Model):
    """The one-click unsubscribe link of one mail: only a hash of the value in its URL is kept.

    See ``service.make_unsubscribe_token`` for the choices (one per mail, 180 days, opaque).
    """

    __tablename__ = "unsubscribe_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 hex of the URL's value: 192 random bits, so a fast hash suffices and the lookup is
    # exact; a copy of the table hands out no working link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Erasure deletes the rows (``service.forget_user``); CASCADE only covers a deleted user row.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # The mail preference it turns off: ``reminders`` or ``badges``.
    preference: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last one-click POST (a confirm page's GET changes nothing, so it does not count).
    last_used_at: Mapped[datetime | None]
