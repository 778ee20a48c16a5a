"""Behind reverse proxies: whose ``X-Forwarded-*`` headers are believed, and how many of them.

``ACADEMY_PROXY_HOPS`` (``PROXY_HOPS``) says how many proxies stand in front. With N > 0,
Werkzeug's ``ProxyFix`` takes the client address, scheme, host, port and path prefix from the
last N values of ``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port`` and ``-Prefix``: the
values the N proxies appended, never what the client wrote before them. At 0 nothing is
trusted. gunicorn's own forwarded handling is switched off (``gunicorn.conf.py``) so that this
is the one place that reads those headers.

Under a prefix (``X-Forwarded-Prefix: /academy`` becomes ``SCRIPT_NAME``) ``url_for`` builds
paths under it, and the cookies the app sets at the root (the session, the remember cookie:
Flask and Flask-Login give them ``Path=/``) are scoped to the prefix, so that another
application on the same host never receives them.
"""
from __future__ import annotations

import re

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# ``Path=/`` as a cookie attribute (followed by another attribute or the end), any case.
_ROOT_PATH = re.compile(r"(;\s*path=)/(?=\s*(?:;|$))", re.IGNORECASE)
# A prefix that can stand in a cookie attribute as it is: segments, no ``;``, comma or space.
_PREFIX = re.compile(r"(?:/[^/;,\s]+)+")


class CookiesUnderPrefix:
    """WSGI middleware: ``Set-Cookie: …; Path=/`` becomes ``Path=<SCRIPT_NAME>``.

    Flask's session cookie takes its path from ``APPLICATION_ROOT`` and Flask-Login's remember
    cookie from ``REMEMBER_COOKIE_PATH``, both fixed per process; the prefix is known per
    request. Cookies set with any other path are left as they are."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        prefix = environ.get("SCRIPT_NAME", "").rstrip("/")
        if not _PREFIX.fullmatch(prefix):
            return self.app(environ, start_response)

        def start(status, headers, exc_info=None):
            headers = [(name, _ROOT_PATH.sub(lambda m: m.group(1) + prefix, value))
                       if name.lower() == "set-cookie" else (name, value)
                       for name, value in headers]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def register_proxy(app: Flask) -> None:
    """Trust exactly ``PROXY_HOPS`` proxies for every forwarded value (none at 0)."""
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops < 0:
        raise ValueError("PROXY_HOPS must be 0 or more")
    app.wsgi_app = CookiesUnderPrefix(app.wsgi_app)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops, x_prefix=hops)
