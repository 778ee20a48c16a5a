"""Relaying the outbox to a real SMTP server: delivery, retries, failures, leases, races."""
from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from academy.accounts.emails import verify_email
from academy.extensions import db
from academy.notifications import relay
from academy.notifications.models import MailStatus
from academy.notifications.relay import claim_due, relay_pending
from academy.notifications.service import queue_mail
from academy.timeutil import utcnow
from tests.helpers.factories import make_user
from tests.helpers.mail import free_port, outbox, parse
from tests.helpers.services import needs_postgres


def queue(user, n: int = 1):
    message = queue_mail("verify_email", user.email, verify_email(user, f"token-{n}"),
                         key=f"verify:{user.id}:{n}", user_id=user.id)
    db.session.commit()
    return message


def test_relay_delivers_over_smtp_with_headers_and_both_parts(app, ctx, smtp):
    server = smtp()
    user = make_user(display_name="Zoë")
    message_id = queue(user).message_id

    result = relay_pending()

    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)
    (mail_from, rcpt_tos, raw), = server.delivered
    assert mail_from == "academy@localhost" and rcpt_tos == [user.email]
    message = parse(raw)
    assert message["From"] == "HireKit Academy <academy@localhost>"
    assert message["To"] == user.email
    assert message["Subject"] == "Confirm your email address for HireKit Academy"
    assert message["Message-ID"] == message_id and message_id.endswith("@localhost>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello," in text and "Hello," in html and "Zoë" not in text  # no unverified name
    assert "— HireKit Academy" in text  # non-ASCII survives the trip (UTF-8)
    assert "http://academy.test/verify-email?token=token-1" in text
    assert 'href="http://academy.test/verify-email?token=token-1"' in html
    row, = outbox()
    assert row.status is MailStatus.sent and row.sent_at and row.attempts == 1


def test_451_then_250_delivers_once_with_the_same_message_id(ctx, smtp):
    server = smtp(fail_first=1)
    queue(make_user())
    start = utcnow()

    relay_pending(now=start)
    row, = outbox()
    assert row.status is MailStatus.pending and row.attempts == 1
    assert row.last_error.startswith("451 4.3.0 try again")
    assert start < row.next_attempt_at <= start + timedelta(seconds=relay.BACKOFF_BASE)
    relay_pending(now=start)  # not due yet: nothing happens
    assert len(server.attempts) == 1

    relay_pending(now=row.next_attempt_at)
    relay_pending(now=row.next_attempt_at + timedelta(hours=1))

    assert len(server.attempts) == 2 and len(server.delivered) == 1
    first, second = (parse(raw) for raw in server.attempts)
    assert first["Message-ID"] == second["Message-ID"] == row.message_id
    assert server.attempts[0] == server.attempts[1], "a retry resends the very same bytes"
    assert outbox()[0].status is MailStatus.sent


def test_550_marks_the_mail_failed_and_never_retries(ctx, smtp):
    server = smtp(rcpt_reply="550 5.1.1 no such user")
    queue(make_user())

    relay_pending()
    relay_pending(now=utcnow() + timedelta(days=1))

    assert server.rcpt_calls == 1 and server.delivered == []
    row, = outbox()
    assert row.status is MailStatus.failed and row.attempts == 1
    assert row.last_error.startswith("550 5.1.1 no such user")


def test_smtp_down_then_up_delivers_each_mail_exactly_once(app, ctx, smtp, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_URL", f"smtp://127.0.0.1:{port}")
    users = [make_user() for _ in range(3)]
    for user in users:
        queue(user)
    start = utcnow()

    result = relay_pending(now=start)  # nothing listens on the port
    assert (result.sent, result.retrying) == (0, 3)
    rows = outbox()
    assert all(r.status is MailStatus.pending and r.attempts == 1 for r in rows)
    assert all("Connection refused" in r.last_error for r in rows)

    server = smtp(port=port)
    relay_pending(now=start)  # the server is back, but the retries are not due yet
    assert server.delivered == []
    later = max(r.next_attempt_at for r in rows)
    relay_pending(now=later)
    relay_pending(now=later + timedelta(hours=1))

    assert sorted(to[0] for _, to, _ in server.delivered) == sorted(u.email for u in users)
    assert all(r.status is MailStatus.sent for r in outbox())


def test_one_connection_serves_a_batch_and_a_dropped_one_is_reopened(ctx, smtp):
    # The server answers the first DATA with 421 (closing): smtplib hangs up on it.
    server = smtp(fail_first=1, data_reply="421 4.3.2 shutting down")
    for _ in range(4):
        queue(make_user())

    result = relay_pending()

    assert (result.sent, result.retrying) == (3, 1)
    assert server.ehlo_calls == 2, "one connection, plus one after the 421"
    assert outbox(status=MailStatus.pending)[0].last_error.startswith("421 4.3.2")


def test_a_server_that_never_answers_times_out_and_the_mail_waits(app, ctx, monkeypatch):
    with socket.socket() as silent:  # accepts connections, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}?timeout=0.3"
        monkeypatch.setitem(app.config, "MAIL_URL", url)
        queue(make_user())
        result = relay_pending()

    assert result.retrying == 1
    row, = outbox()
    assert row.status is MailStatus.pending and "timed out" in row.last_error


def test_a_mail_that_keeps_failing_gives_up_after_the_maximum_attempts(ctx, smtp):
    server = smtp(fail_first=10**6)
    queue(make_user())
    now = utcnow()
    delays = []
    for _ in range(relay.MAX_ATTEMPTS):
        relay_pending(now=now)
        row = outbox()[0]
        if row.status is MailStatus.pending:
            delays.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at

    assert len(server.attempts) == relay.MAX_ATTEMPTS
    assert outbox()[0].status is MailStatus.failed
    ceilings = [min(relay.BACKOFF_CAP, relay.BACKOFF_BASE * 2 ** n) for n in range(len(delays))]
    assert all(1 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_a_claim_whose_lease_expired_is_taken_again(ctx, smtp):
    server = smtp()
    queue(make_user())
    now = utcnow()
    # A worker claims the row, then dies before sending.
    assert len(claim_due(now)) == 1
    db.session.commit()

    relay_pending(now=now + relay.LEASE - timedelta(seconds=1))
    assert server.delivered == [] and outbox()[0].status is MailStatus.sending

    relay_pending(now=now + relay.LEASE)
    relay_pending(now=now + relay.LEASE * 3)
    assert len(server.delivered) == 1
    assert outbox()[0].status is MailStatus.sent


def test_file_transport_writes_an_eml_file(app, ctx, tmp_path, monkeypatch):
    folder = tmp_path / "mail"
    monkeypatch.setitem(app.config, "MAIL_URL", None)
    monkeypatch.setitem(app.config, "MAIL_DIR", str(folder))
    user = make_user()
    row = queue(user)

    relay_pending()

    eml, = folder.glob("*.eml")
    assert eml.name.endswith(f"-{row.id}.eml")
    message = parse(eml.read_bytes())
    assert message["To"] == user.email and message["Message-ID"] == row.message_id
    assert "verify-email?token=token-1" in message.get_body(("plain",)).get_content()
    assert outbox()[0].status is MailStatus.sent


def test_credentials_are_url_decoded_and_never_stored_in_errors(app, ctx, smtp, monkeypatch):
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"p@ss:w/rd")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    server = smtp(userinfo="mailer:p%40ss%3Aw%2Frd@", authenticator=authenticator,
                  auth_require_tls=False)
    queue(make_user(), n=1)
    relay_pending()
    assert len(server.delivered) == 1

    wrong = f"smtp://mailer:wrong%21secret@127.0.0.1:{server.port}?timeout=5"
    monkeypatch.setitem(app.config, "MAIL_URL", wrong)
    queue(make_user(), n=2)
    relay_pending()
    row = outbox(status=MailStatus.pending)[0]
    assert row.last_error.startswith(f"connect to 127.0.0.1:{server.port}: 535")
    assert "wrong" not in row.last_error and "secret" not in row.last_error


def test_two_relays_at_once_send_every_mail_exactly_once(app, ctx, smtp):
    server = smtp()
    users = [make_user() for _ in range(24)]
    for user in users:
        queue(user)
    errors = []

    def run():
        try:
            with app.app_context():
                relay_pending(batch_size=4)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    message_ids = [parse(raw)["Message-ID"] for _, _, raw in server.delivered]
    assert len(message_ids) == len(set(message_ids)) == 24


@needs_postgres
def test_a_claim_skips_rows_another_relay_is_claiming(ctx):
    users = [make_user() for _ in range(4)]
    for user in users:
        queue(user)
    now = utcnow()
    with Session(db.engine) as first, Session(db.engine) as second:
        taken_first = claim_due(now, 2, session=first)  # not committed: its row locks are held
        taken_second = claim_due(now, 10, session=second)
        first.commit()
        second.commit()

    ids_first = {c.message.id for c in taken_first}
    ids_second = {c.message.id for c in taken_second}
    assert len(ids_first) == 2 and len(ids_second) == 2 and not ids_first & ids_second


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_tls_transports_deliver(ctx, smtp, tls_files, monkeypatch, scheme):
    import ssl

    cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # The client trusts our test CA the way it trusts any: through OpenSSL's default paths.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    if scheme == "smtps":
        server = smtp(scheme=scheme, ssl_context=context)
    else:
        server = smtp(scheme=scheme, tls_context=context, require_starttls=True)
    queue(make_user())

    relay_pending()

    assert len(server.delivered) == 1
    assert outbox()[0].status is MailStatus.sent


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
