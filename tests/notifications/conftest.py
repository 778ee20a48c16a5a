"""A real SMTP server (aiosmtpd) on loopback, and helpers to read what it received."""
from __future__ import annotations

import email
import socket
from email import policy

import pytest
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
    def __init__(self, recorder: Recorder, port: int, controller: Controller):
        self.recorder, self.port, self.controller = recorder, port, controller
        self.url = f"smtp://127.0.0.1:{port}"

    def __getattr__(self, name):
        return getattr(self.recorder, name)


@pytest.fixture
def smtp(app, monkeypatch):
    """Start aiosmtpd servers: ``smtp(fail_first=1)``; the app's MAIL_URL points at the last one.

    ``port=`` reuses a port (a server that comes up after being down); extra keywords go to
    aiosmtpd's Controller (TLS, authentication).
    """
    started: list[Controller] = []

    def start(*, port: int | None = None, scheme: str = "smtp", userinfo: str = "",
              **kwargs) -> SmtpServer:
        recorder = Recorder(**{k: kwargs.pop(k) for k in ("fail_first", "data_reply",
                                                          "rcpt_reply") if k in kwargs})
        port = port or free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        server = SmtpServer(recorder, port, controller)
        server.url = f"{scheme}://{userinfo}127.0.0.1:{port}"
        monkeypatch.setitem(app.config, "MAIL_URL", server.url)
        return server

    yield start
    for controller in started:
        controller.stop()


def outbox(**filters) -> list[OutboxMessage]:
    """Outbox rows as the database has them now (a fresh read, not the session's copies)."""
    db.session.expire_all()
    query = db.select(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.id)
    return list(db.session.scalars(query))


def queued_relays(app) -> int:
    """Relay tasks waiting in the broker's ``mail`` queue (Redis or the embedded broker)."""
    with app.extensions["celery"].connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue="mail").message_count


def purge_relays(app) -> None:
    with app.extensions["celery"].connection_for_read() as conn:
        conn.default_channel.queue_purge("mail")
