"""A real SMTP server (aiosmtpd) on loopback; tests/helpers/mail.py reads what it received."""
from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from tests.helpers.mail import Recorder, SmtpServer, free_port


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
