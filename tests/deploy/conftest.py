"""The app as operators deploy it: a real nginx with ``ops/nginx/academy.conf`` (TLS with a
certificate made here) in front of ``gunicorn wsgi:app`` with the shipped ``gunicorn.conf.py``,
in production mode on PostgreSQL and Redis.

nginx runs from a temporary prefix on high ports, unprivileged (as ``nobody`` when the tests
run as root). Without nginx the tests say they were skipped and why, unless
``ACADEMY_TEST_REQUIRE_NGINX`` is set (CI sets it): then they fail.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.helpers.mail import free_port
from tests.helpers.services import (
    ROOT,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    academy_environ,
    wait_until,
)

SITE = ROOT / "ops" / "nginx" / "academy.conf"
HOST = "academy.test"
PREFIX = "/academy"


def _nginx_binary() -> str | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                      else None)
    return found


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    binary = _nginx_binary()
    if binary is None:
        message = ("needs nginx: `apt-get install -y nginx` (Debian 12's 1.22); the test starts "
                   "its own, unprivileged, on a temporary prefix")
        if os.environ.get("ACADEMY_TEST_REQUIRE_NGINX"):
            pytest.fail(f"ACADEMY_TEST_REQUIRE_NGINX is set: {message}")
        pytest.skip(message)
    if not (TEST_DATABASE_URL or "").startswith("postgresql") or not TEST_REDIS_URL:
        message = ("needs PostgreSQL and Redis: set ACADEMY_TEST_DATABASE_URL and "
                   "ACADEMY_TEST_REDIS_URL (CI does); gunicorn runs in production mode")
        if os.environ.get("ACADEMY_TEST_REQUIRE_NGINX"):
            pytest.fail(f"ACADEMY_TEST_REQUIRE_NGINX is set: {message}")
        pytest.skip(message)
    return binary


@dataclass
class Deployment:
    """Where the test reaches nginx, and what it can read of what nginx did."""

    tls_port: int
    http_port: int
    directory: Path
    cafile: Path
    gunicorn_port: int
    _context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        return f"https://{HOST}:{self.tls_port}"

    @property
    def context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=str(self.cafile))
        return self._context

    def tls_socket(self, source: str = "127.0.0.2") -> ssl.SSLSocket:
        """A TLS connection to nginx from ``source`` (any address of 127.0.0.0/8)."""
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=30,
                                       source_address=(source, 0))
        return self.context.wrap_socket(raw, server_hostname=HOST)

    def call(self, method: str, path: str, body=None, *, source: str = "127.0.0.2",
             headers: dict | None = None, cookies: dict | None = None,
             raw_body: bytes | None = None) -> Answer:
        """One request on a new connection from ``source``, as a browser or client would send it."""
        connection = _Connection(HOST, self.tls_port, context=self.context, timeout=30,
                                 source_address=(source, 0))
        sent = dict(headers or {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        data = raw_body if raw_body is not None else (
            json.dumps(body).encode() if body is not None else None)
        if data is not None and "Content-Type" not in sent:
            sent["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        answer = Answer(response.status, response.getheaders(), response.read())
        connection.close()
        return answer

    def access_log(self) -> list[str]:
        path = self.directory / "academy.access.log"
        return path.read_text().splitlines() if path.exists() else []

    def logged_since(self, start: int, count: int) -> list[str]:
        """The ``count`` access-log lines after the first ``start``: nginx writes a request's
        line once its answer is sent, so the client may have read the answer before."""
        wait_until(lambda: len(self.access_log()) >= start + count, timeout=10)
        return self.access_log()[start:]


class _Connection(http.client.HTTPSConnection):
    """HTTPS to nginx on 127.0.0.1 with SNI and Host ``academy.test``, from a chosen address."""

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout,
                                       self.source_address)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    def cookies(self) -> dict[str, SimpleCookie]:
        """Each cookie set, by name, with its attributes (``morsel["path"]``)."""
        jar = SimpleCookie()
        for value in self.all("Set-Cookie"):
            jar.load(value)
        return dict(jar.items())


def site_config(directory: Path, *, tls_port: int, http_port: int, gunicorn_port: int,
                cert: Path, key: Path) -> str:
    """``ops/nginx/academy.conf`` with its documented placeholders filled in for this test."""
    text = SITE.read_text()
    replacements = [
        ("academy.example.org", HOST),
        ("/etc/ssl/academy/fullchain.pem", str(cert)),
        ("/etc/ssl/academy/privkey.pem", str(key)),
        ("127.0.0.1:8000", f"127.0.0.1:{gunicorn_port}"),
        ("/var/cache/nginx/academy", str(directory / "cache")),
        ("/var/log/nginx/academy.access.log", str(directory / "academy.access.log")),
        ("listen 443 ", f"listen 127.0.0.1:{tls_port} "),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
    ]
    for placeholder, value in replacements:
        assert placeholder in text, f"{SITE} no longer has the placeholder {placeholder!r}"
        text = text.replace(placeholder, value)
    # IPv6 may be off on a test machine; the IPv4 lines are the same site.
    return "\n".join(line for line in text.splitlines() if "listen [::]:" not in line) + "\n"


def main_config(directory: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site, with every path in ``directory``."""
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    {mime}
    default_type application/octet-stream;
    sendfile on;
    access_log {directory / "other.access.log"};
{temp}
    include {directory / "academy.conf"};
}}
"""


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for academy.test (the client trusts exactly it)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def _drop_to_nobody(directory: Path) -> dict:
    """Popen arguments that run nginx as ``nobody`` when the tests run as root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    nobody = pwd.getpwnam("nobody")
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


@pytest.fixture(scope="module")
def gunicorn_port(nginx_binary, app):
    """``gunicorn wsgi:app`` as the README has it, configured by gunicorn.conf.py and the
    contract's variables, production mode, one proxy in front."""
    port, tls_port = free_port(), free_port()
    env = academy_environ(
        TEST_DATABASE_URL, ACADEMY_ENV="production", ACADEMY_REDIS_URL=TEST_REDIS_URL,
        ACADEMY_BIND=f"127.0.0.1:{port}", ACADEMY_WEB_WORKERS="2", ACADEMY_PROXY_HOPS="1",
        # No port: the CSRF origin check must find the port in the forwarded values.
        ACADEMY_BASE_URL=f"https://{HOST}", ACADEMY_MAIL_FROM=f"HireKit Academy <academy@{HOST}>")
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "wsgi:app"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)

    def healthy():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return process.poll() is not None  # ended: stop waiting, and say why below
        finally:
            connection.close()
    try:
        wait_until(healthy, timeout=60)
        assert process.poll() is None, process.communicate()[0].decode(errors="replace")[-3000:]
        yield port, tls_port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
        assert "Traceback" not in output, output[-3000:]


@pytest.fixture(scope="module")
def deployment(nginx_binary, gunicorn_port):
    port, tls_port = gunicorn_port
    directory = Path(tempfile.mkdtemp(prefix="academy-nginx-"))
    try:
        (directory / "cache").mkdir()
        cert, key = make_certificate(directory)
        http_port = free_port()
        (directory / "academy.conf").write_text(site_config(
            directory, tls_port=tls_port, http_port=http_port, gunicorn_port=port,
            cert=cert, key=key))
        (directory / "nginx.conf").write_text(main_config(directory))
        command = [nginx_binary, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                   "-e", str(directory / "error.log"), "-g", "daemon off;"]
        extra = _drop_to_nobody(directory)
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, **extra)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True, **extra)
        site = Deployment(tls_port=tls_port, http_port=http_port, directory=directory,
                          cafile=cert, gunicorn_port=port)

        def listening():
            if process.poll() is not None:
                return True
            try:
                site.tls_socket("127.0.0.1").close()
                return True
            except OSError:
                return False
        try:
            wait_until(listening, timeout=20)
            assert process.poll() is None, (directory / "error.log").read_text()
            yield site
        finally:
            process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_limits(request):
    """gunicorn counts in Redis: every test starts from zero."""
    if "deployment" not in request.fixturenames or not TEST_REDIS_URL:
        yield
        return
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter("LIMITS*"):
        client.delete(key)
    yield
    client.close()
