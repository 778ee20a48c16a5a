"""gunicorn's settings for ``gunicorn wsgi:app`` (gunicorn reads ./gunicorn.conf.py by itself).

Made for sync workers behind a buffering reverse proxy (``ops/nginx/academy.conf``): nginx
reads each request body whole before it passes the request on and takes each answer as fast as
gunicorn writes it, so a worker is busy only while the app computes, and a slow client costs
nginx a connection, never a worker. Without such a proxy in front, one client trickling a body
holds a worker until ``timeout``.

- ``ACADEMY_BIND`` (default ``127.0.0.1:8000``): where to listen; comma-separated for several,
  ``unix:/path`` for a socket. Only the proxy may reach it.
- ``ACADEMY_WEB_WORKERS`` (default 2 × cores + 1): worker processes.
- ``ACADEMY_PROXY_HOPS`` is read by the app (``academy.proxy``), not here: see
  ``forwarded_allow_ips`` below.

Command-line options still win over these (``gunicorn --workers 2 wsgi:app``).
"""
from __future__ import annotations

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _workers(value: str | None) -> int:
    if not value:
        return 2 * _cores() + 1  # gunicorn's advice for sync workers
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"ACADEMY_WEB_WORKERS must be a whole number of at least 1, not {value!r}")
    return int(value)


wsgi_app = "wsgi:app"
bind = [part.strip() for part in (os.environ.get("ACADEMY_BIND") or "127.0.0.1:8000").split(",")
        if part.strip()]
workers = _workers(os.environ.get("ACADEMY_WEB_WORKERS"))
worker_class = "sync"

# Forwarded headers: the app alone reads them, through Werkzeug's ProxyFix, for exactly
# ACADEMY_PROXY_HOPS proxies (client address, scheme, host, port and prefix alike). gunicorn's
# own handling would be a second, different reading: it trusts by peer address, not by hop
# (its default trusts X-Forwarded-Proto from 127.0.0.1 whatever ACADEMY_PROXY_HOPS says, and
# every peer on a unix socket), takes only the scheme, and refuses with 400 a request whose
# scheme headers disagree (a client's own "X-Forwarded-Ssl: off" passed on beside nginx's
# X-Forwarded-Proto). So it trusts no peer and no header, at every value of ACADEMY_PROXY_HOPS:
# at 0 nothing is trusted anywhere, at N the app trusts the N proxies' values and nothing more.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# A worker that computes for more than 30 s is killed and replaced (no request of ours takes
# a second); nginx gives up on it a little later (proxy_read_timeout 35s), so the client gets
# nginx's 502/504 rather than a cut connection.
timeout = 30
graceful_timeout = 30
# keepalive stays at its default: sync workers close the connection after each answer (gunicorn
# ignores keepalive for them), so nginx opens one per request, over loopback.
# The heartbeat file on tmpfs: on a disk under load its fchmod can stall a worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Each worker builds its own app (database pools, Redis clients): nothing shared across fork.
preload_app = False
# Errors to stderr; no access log (nginx keeps one, with tokens redacted: see README).
errorlog = "-"
accesslog = None
