"""Turning an outbox row into bytes, and handing bytes to SMTP or to ``.eml`` files."""
from __future__ import annotations

import binascii
import hashlib
import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import idna

DEFAULT_TIMEOUT = 30.0
_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class DeliveryError(Exception):
    """Sending one message failed; ``str()`` is safe to store (never holds credentials)."""

    permanent = False
    # The connection is unusable afterwards: reopen before the next message.
    connection_lost = False


class TransientError(DeliveryError):
    """Worth retrying later: 4xx replies, timeouts, refused or dropped connections."""


class ConnectionLost(TransientError):
    connection_lost = True


class PermanentError(DeliveryError):
    """The server refused this message for good (5xx); retrying would not help."""

    permanent = True


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the relay reads from a claimed row: enough to compose and address the message."""

    id: int
    to: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    created_at: datetime
    headers: dict[str, str] = field(default_factory=dict)


# -- composing ---------------------------------------------------------------------------------
# email.message.EmailMessage takes ~2 ms per message here (longer than a loopback SMTP send);
# this writer takes ~0.1 ms and its output parses back identically with the email package.
# It is deterministic (boundary from the Message-ID, Date from the row), so every retry of a
# row sends the same bytes.

def _header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise PermanentError("header value contains a line break")
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _qp(text: str) -> bytes:
    # Quoted-printable keeps the text readable and 7-bit; b2a_qp is the C encoder quopri uses.
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data).replace(b"\n", b"\r\n")


def _address_header(address: str) -> str:
    # Written as it is, UTF-8 included (RFC 6532): an RFC 2047 encoded-word is not allowed in
    # an address, and parsers read one there as an address without a domain.
    if "\r" in address or "\n" in address:
        raise PermanentError("address contains a line break")
    return address


def idna_address(address: str) -> str:
    """``address`` with its domain as IDNA 2008 A-labels, ``zoë@xn--exmple-cua.org``: the form
    any server routes. The local part is kept as it is; only SMTPUTF8 can carry a non-ASCII one.

    IDNA 2008 (the ``idna`` package, as email_validator checked the address at sign-up), not
    Python's ``"idna"`` codec (IDNA 2003), which turns ``faß.de`` into another domain, ``fass.de``."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise PermanentError(f"the address's domain has no IDNA form: {exc}") from None


def sender_header(mail_from: str) -> str:
    """``MAIL_FROM`` as a From header, RFC 2047-encoding a non-ASCII display name."""
    return formataddr(parseaddr(mail_from), charset="utf-8")


def envelope_sender(mail_from: str) -> str:
    return parseaddr(mail_from)[1]


def compose(message: Outgoing, from_header: str, to: str | None = None) -> bytes:
    """The RFC 5322 bytes of ``message``: text and HTML alternatives, CRLF line ends.

    ``to`` is the recipient as the transport carries it (``Transport.address``); the row's own
    address by default. A non-ASCII one makes the header UTF-8 (RFC 6532)."""
    boundary = "=_" + hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
    date = format_datetime(message.created_at.replace(tzinfo=UTC))
    lines = [
        f"From: {from_header}",
        f"To: {_address_header(to or message.to)}",
        f"Subject: {_header_value(message.subject)}",
        f"Date: {date}",
        f"Message-ID: {_header_value(message.message_id)}",
        # RFC 3834: tells auto-responders (vacation replies) not to answer.
        "Auto-Submitted: auto-generated",
    ]
    lines += [f"{name}: {_header_value(value)}" for name, value in message.headers.items()]
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"']
    part = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    head = "\r\n".join(lines).encode("utf-8")
    marker = f"--{boundary}".encode("ascii")
    return b"".join((
        head, b"\r\n\r\n",
        marker, b"\r\n", part.format("plain").encode(), b"\r\n\r\n", _qp(message.text_body),
        b"\r\n", marker, b"\r\n", part.format("html").encode(), b"\r\n\r\n",
        _qp(message.html_body), b"\r\n", marker, b"--\r\n",
    ))


# -- transports --------------------------------------------------------------------------------

class Transport:
    """Open once, send many, close: one connection serves a whole relay batch."""

    def open(self) -> None:
        """Connect; raises ``TransientError`` when the server cannot be reached or refuses us."""

    def address(self, address: str) -> str:
        """``address`` as this transport writes it, in the To header and the envelope alike;
        ``PermanentError`` when it cannot carry it at all.

        Files take the domain as A-labels and the local part as it is (UTF-8 if need be)."""
        return idna_address(address)

    def send(self, message: Outgoing, raw: bytes, sender: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection; never raises."""


class FileTransport(Transport):
    """Development mail: each message becomes ``<dir>/<timestamp>-<id>.eml``."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransientError(f"cannot create {self.directory}: {exc.strerror or exc}") from None

    def send(self, message: Outgoing, raw: bytes, sender: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{message.id}.eml"
        partial = path.with_suffix(".eml.part")
        try:
            # Written aside then renamed, so a reader never sees half a message.
            partial.write_bytes(raw)
            os.replace(partial, path)
        except OSError as exc:
            raise TransientError(f"cannot write {path.name}: {exc.strerror or exc}") from None


class SmtpTransport(Transport):
    """``smtp://``, ``smtp+starttls://`` or ``smtps://`` with optional ``user:pass@``."""

    def __init__(self, scheme: str, host: str, port: int, *, username: str | None = None,
                 password: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 local_hostname: str | None = None):
        self.scheme, self.host, self.port = scheme, host, port
        self.username, self.password = username, password
        self.timeout = timeout
        # Given explicitly: smtplib's default (socket.getfqdn) can stall on a DNS lookup.
        self.local_hostname = local_hostname or "localhost"
        self._conn: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never shows the password
        user = f"{self.username}:***@" if self.username else ""
        return f"<SmtpTransport {self.scheme}://{user}{self.host}:{self.port}>"

    def _redact(self, text: str) -> str:
        # Belt and braces: no server reply we know of echoes the password, but none may leak.
        if self.password:
            text = text.replace(self.password, "***")
        return text[:500]

    def open(self) -> None:
        if self._conn is not None:
            return
        conn = None
        try:
            context = ssl.create_default_context()
            if self.scheme == "smtps":
                conn = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                        timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                    timeout=self.timeout)
                if self.scheme == "smtp+starttls":
                    conn.starttls(context=context)
            conn.ehlo_or_helo_if_needed()
            if self.username:
                conn.login(self.username, self.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                _close_quietly(conn)
            # Even a 5xx here (bad credentials, TLS refused) is the server's or our
            # configuration's problem, not the message's: retry later rather than fail the mail.
            raise TransientError(self._redact(f"connect to {self.host}:{self.port}: "
                                              f"{_describe(exc)}")) from None
        self._conn = conn

    @property
    def smtputf8(self) -> bool:
        """Whether the open connection's server takes UTF-8 addresses and headers (RFC 6531)."""
        if self._conn is None:
            self.open()
        return self._conn.has_extn("smtputf8")

    def address(self, address: str) -> str:
        """As it is where it is ASCII or the server offers SMTPUTF8; else with its domain as
        A-labels, and a non-ASCII local part refused for good: no other form of it exists."""
        if address.isascii() or self.smtputf8:
            return address
        ascii_form = idna_address(address)
        if not ascii_form.isascii():
            raise PermanentError(f"{self.host} does not offer SMTPUTF8, which an address with a "
                                 f"non-ASCII local part needs")
        return ascii_form

    def send(self, message: Outgoing, raw: bytes, sender: str) -> None:
        if self._conn is None:
            self.open()
        sender, recipient = self.address(sender), self.address(message.to)
        utf8 = not (sender.isascii() and recipient.isascii())
        try:
            self._conn.sendmail(sender, [recipient], raw,
                                mail_options=["SMTPUTF8"] if utf8 else ())
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise self._reply_error(code, reply) from None
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. an internationalised address to a server without SMTPUTF8.
            raise PermanentError(self._redact(_describe(exc))) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnected, timed out, reset: the connection is gone, the message may be fine.
            self.close()
            raise ConnectionLost(self._redact(_describe(exc))) from None

    def _reply_error(self, code: int, reply: bytes | str) -> DeliveryError:
        text = self._redact(f"{code} {_text(reply)}")
        if code == 421 or code < 400:
            # 421: the server is closing the channel (smtplib has closed its side); an
            # unexpected 2xx/3xx means we no longer agree on the protocol state.
            self.close()
            return ConnectionLost(text)
        return PermanentError(text) if code >= 500 else TransientError(text)

    def close(self) -> None:
        if self._conn is not None:
            _close_quietly(self._conn)
            self._conn = None


def _close_quietly(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def parse_mail_url(url: str, *, local_hostname: str | None = None) -> SmtpTransport:
    """Build the SMTP transport a ``MAIL_URL`` names; ``?timeout=`` (seconds) is optional."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname:
        raise ValueError("MAIL_URL must look like smtp://, smtp+starttls:// or smtps://"
                         "[user:pass@]host[:port]")
    query = parse_qs(parts.query)
    timeout = float(query.get("timeout", [DEFAULT_TIMEOUT])[0])
    return SmtpTransport(
        scheme, parts.hostname, parts.port or _PORTS[scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=timeout, local_hostname=local_hostname,
    )


def transport_from_config(config) -> Transport:
    """The transport ``MAIL_URL`` names, or ``.eml`` files under ``MAIL_DIR`` when it is unset."""
    url = config.get("MAIL_URL")
    if not url:
        return FileTransport(config["MAIL_DIR"])
    domain = envelope_sender(config["MAIL_FROM"]).rpartition("@")[2] or None
    return parse_mail_url(url, local_hostname=domain)
