"""Mail to internationalised addresses (``zoë@exämple.org``), against a real SMTP server.

The To header used to be one RFC 2047 encoded-word, which mail parsers read as an address with
no domain. Now: as it is (UTF-8, RFC 6531/6532) to a server that offers SMTPUTF8; else with the
domain as IDNA A-labels, and a non-ASCII local part, which has no other form, fails the row
with a reason instead of being sent mangled.
"""
from __future__ import annotations

import email
from email import policy

from academy.accounts.emails import verify_email
from academy.extensions import db
from academy.notifications.models import MailStatus
from academy.notifications.relay import relay_pending
from academy.notifications.service import queue_mail
from tests.helpers.mail import outbox, parse

ZOE = "zoë@exämple.org"
ZOE_ASCII_LOCAL = "zoe@exämple.org"
IDNA_DOMAIN = "exämple.org".encode("idna").decode("ascii")  # xn--exmple-cua.org


def register(client, address: str):
    response = client.post("/api/v1/auth/register", json={
        "email": address, "password": "a long enough secret", "display_name": "Zoë"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["email"] == address
    return response


def to_header(raw: bytes) -> bytes:
    head = raw.split(b"\r\n\r\n", 1)[0]
    line, = [line for line in head.split(b"\r\n") if line.startswith(b"To:")]
    return line


def test_a_server_with_smtputf8_gets_the_address_as_it_is(app, client, smtp):
    server = smtp(enable_SMTPUTF8=True)
    register(client, ZOE)
    with app.app_context():
        assert relay_pending().sent == 1

    (_, rcpt_tos, raw), = server.delivered
    assert rcpt_tos == [ZOE]
    assert to_header(raw) == f"To: {ZOE}".encode()  # UTF-8 (RFC 6532), no encoded-word
    # Python parses UTF-8 headers right from text; from bytes only the header's str is right.
    assert str(parse(raw)["To"]) == ZOE
    address, = email.message_from_string(raw.decode("utf-8"), policy=policy.default)["To"].addresses
    assert (address.username, address.domain) == ("zoë", "exämple.org")
    text = parse(raw).get_body(("plain",)).get_content()
    assert "http://academy.test/verify-email?token=" in text


def test_without_smtputf8_the_domain_is_sent_as_idna(app, client, smtp):
    server = smtp(enable_SMTPUTF8=False)  # aiosmtpd's Controller offers it by default
    register(client, ZOE_ASCII_LOCAL)
    with app.app_context():
        assert relay_pending().sent == 1

    (_, rcpt_tos, raw), = server.delivered
    assert rcpt_tos == [f"zoe@{IDNA_DOMAIN}"] and IDNA_DOMAIN == "xn--exmple-cua.org"
    address, = parse(raw)["To"].addresses
    assert (address.username, address.domain) == ("zoe", IDNA_DOMAIN)
    assert raw.isascii()


def test_without_smtputf8_a_non_ascii_local_part_fails_with_a_reason_and_the_rest_goes(
        app, ctx, smtp):
    server = smtp(enable_SMTPUTF8=False)
    for n, address in enumerate((ZOE, "ada@example.org")):
        queue_mail("verify_email", address, verify_email(None, "t"), key=f"intl:{n}")
    db.session.commit()

    result = relay_pending()

    assert (result.sent, result.retrying, result.failed) == (1, 0, 1)
    failed, sent = outbox()
    assert failed.status is MailStatus.failed and "SMTPUTF8" in failed.last_error
    assert failed.attempts == 1  # refused for good: no retry would help
    assert sent.status is MailStatus.sent
    assert [rcpt for _, rcpt, _ in server.delivered] == [["ada@example.org"]]


def test_the_eml_file_for_an_international_address_parses_with_its_domain(app, ctx, tmp_path,
                                                                          monkeypatch):
    folder = tmp_path / "mail"
    monkeypatch.setitem(app.config, "MAIL_URL", None)
    monkeypatch.setitem(app.config, "MAIL_DIR", str(folder))
    queue_mail("verify_email", ZOE, verify_email(None, "t"), key="intl:file")
    db.session.commit()

    assert relay_pending().sent == 1

    eml, = folder.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    address, = message["To"].addresses
    assert address.domain == IDNA_DOMAIN
    assert str(message["To"]) == f"zoë@{IDNA_DOMAIN}"
