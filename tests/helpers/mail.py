"""Mail as the tests see it: a real SMTP server's recorder (aiosmtpd), parsed messages, outbox rows."""
from __future__ import annotations

import email
import socket
from email import policy

from aiosmtpd.controller import Controller

from academy.extensions import db
from academy.notifications.models import OutboxMessage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


class Recorder:
    """An aiosmtpd handler that keeps every DATA attempt, accepted or not.

    ``fail_first`` DATA attempts answer ``data_reply`` (a 451 by default); ``rcpt_reply``, when
    set, answers every RCPT (e.g. a 550 for an unknown user).
    """

    def __init__(self, fail_first: int = 0, data_reply: str = "451 4.3.0 try again",
                 rcpt_reply: str | None = None):
        self.fail_first = fail_first
        self.data_reply = data_reply
        self.rcpt_reply = rcpt_reply
        self.rcpt_calls = 0
        self.ehlo_calls = 0
        self.attempts: list[bytes] = []
        self.delivered: list[tuple[str, list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.ehlo_calls += 1  # one per connection (plain SMTP says EHLO once)
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_calls += 1
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts.append(envelope.original_content)
        if len(self.attempts) <= self.fail_first:
            return self.data_reply
        self.delivered.append((envelope.mail_from, list(envelope.rcpt_tos),
                               envelope.original_content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [parse(raw) for _, _, raw in self.delivered]


class SmtpServer:
    """A started server: its recorder's lists and counters, its port, URL and controller."""

    def __init__(self, recorder: Recorder, port: int, controller: Controller):
        self.recorder, self.port, self.controller = recorder, port, controller
        self.url = f"smtp://127.0.0.1:{port}"

    def __getattr__(self, name):
        return getattr(self.recorder, name)


def outbox(**filters) -> list[OutboxMessage]:
    """Outbox rows as the database has them now (a fresh read, not the session's copies)."""
    db.session.expire_all()
    query = db.select(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.id)
    return list(db.session.scalars(query))
