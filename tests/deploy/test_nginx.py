"""Behind nginx with ``ops/nginx/academy.conf``: every promise holds for each client separately,
at the root and under ``/academy/``, and what nginx must stop never reaches gunicorn.

Clients connect from different addresses of 127.0.0.0/8 (127.0.0.2, 127.0.0.3): to nginx they
are different machines, to gunicorn every request comes from 127.0.0.1.
"""
from __future__ import annotations

import gzip
import re
import time
from urllib.parse import urlencode, urljoin, urlsplit

from tests.deploy.conftest import HOST, PREFIX
from tests.helpers.factories import PASSWORD, make_user

ALICE, BOB = "127.0.0.2", "127.0.0.3"
WRONG = "wrong password!"


def login(site, email, password=WRONG, *, source=ALICE, prefix="", **kwargs):
    return site.call("POST", f"{prefix}/api/v1/auth/login",
                     {"email": email, "password": password}, source=source, **kwargs)


def register(site, n, *, source=ALICE, **kwargs):
    return site.call("POST", "/api/v1/auth/register", {
        "email": f"new{n}-{source}@example.org", "password": "a long enough secret",
        "display_name": "New"}, source=source, **kwargs)


def no_rate_limit_counters(answer) -> bool:
    return not [name for name, _ in answer.headers if name.lower().startswith("x-ratelimit")]


def test_wrong_passwords_from_one_client_lock_out_only_that_client(deployment, catalog, app):
    with app.app_context():
        email = make_user().email
    for i in range(10):  # ten accounts, one client
        assert login(deployment, f"guess{i}@example.org").status == 401
    refused = login(deployment, "guess-eleven@example.org")
    assert refused.status == 429 and int(refused.header("Retry-After")) > 0
    # Another client, the right password: nginx's address is not the one counted.
    answer = login(deployment, email, PASSWORD, source=BOB)
    assert answer.status == 200, answer.text
    assert answer.header("Retry-After") is None and no_rate_limit_counters(answer)


def test_sign_ups_are_counted_per_client_and_show_no_counters(deployment, catalog):
    for i in range(10):
        answer = register(deployment, i)
        assert answer.status == 201, answer.text
        assert answer.header("Retry-After") is None and no_rate_limit_counters(answer)
    refused = register(deployment, 10)
    assert refused.status == 429 and int(refused.header("Retry-After")) > 0
    assert no_rate_limit_counters(refused)
    assert register(deployment, 11, source=BOB).status == 201  # the site is open to others


def test_a_forged_x_forwarded_for_changes_nothing(deployment, catalog):
    for i in range(10):  # a new "address" each time, in every way a client can write one
        forged = {"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"203.0.113.{i}",
                  "Forwarded": f"for=203.0.113.{i}"}
        assert login(deployment, f"guess{i}@example.org", headers=forged).status == 401
    forged = {"X-Forwarded-For": "203.0.113.99, 198.51.100.1"}
    assert login(deployment, "guess@example.org", headers=forged).status == 429
    # ... nor do forged host, scheme, port and prefix: the page is the one nginx serves.
    page = deployment.call("GET", "/login", headers={
        "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
        "X-Forwarded-Port": "1", "X-Forwarded-Prefix": "/evil"})
    assert page.status == 200
    assert 'action="/login"' in page.text and "/evil" not in page.text
    assert page.cookies()["session"]["path"] == "/"
    moved = deployment.call("GET", "/api/v1//tracks", headers={"X-Forwarded-Host": "evil.example",
                                                             "X-Forwarded-Prefix": "/evil"})
    assert urljoin(deployment.origin + "/", moved.header("Location")) == (
        f"{deployment.origin}/api/v1/tracks")


def test_redirects_keep_scheme_host_and_port(deployment, catalog):
    answer = deployment.call("GET", "/api/v1//tracks?career=data")
    assert answer.status == 308
    assert answer.header("Content-Type") == "application/problem+json"
    assert answer.json()["status"] == 308
    # Resolved against the address the client used: https, academy.test, nginx's port.
    target = urlsplit(urljoin(deployment.origin + "/api/v1//tracks", answer.header("Location")))
    assert (target.scheme, target.hostname, target.port) == ("https", HOST, deployment.tls_port)
    assert (target.path, target.query) == ("/api/v1/tracks", "career=data")
    # nginx's own redirect, to the prefix's root, keeps them too.
    slashless = deployment.call("GET", PREFIX)
    assert slashless.status == 301
    assert slashless.header("Location") == f"{deployment.origin}{PREFIX}/"
    # A Host that is not ours never reaches the app.
    assert deployment.call("GET", "/api/v1//tracks", headers={"Host": "evil.example"}).status == 421


def test_a_signed_in_write_from_our_own_origin_passes_the_origin_check(deployment, catalog, app):
    """The check compares Origin with the scheme, host and port nginx forwarded: gunicorn alone
    would see http://academy.test, and ACADEMY_BASE_URL has no port."""
    with app.app_context():
        email = make_user().email
    own = {"Origin": deployment.origin}
    signed_in = login(deployment, email, PASSWORD, headers=own)
    assert signed_in.status == 200, signed_in.text
    cookies = {name: morsel.value for name, morsel in signed_in.cookies().items()}
    csrf = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    token = deployment.call("POST", "/api/v1/auth/tokens", {"name": "laptop"}, cookies=cookies,
                            headers={**own, **csrf})
    assert token.status == 201, token.text
    foreign = deployment.call("POST", "/api/v1/auth/tokens", {"name": "evil"}, cookies=cookies,
                              headers={"Origin": "https://evil.example", **csrf})
    assert foreign.status == 403


def test_the_app_works_under_the_prefix(deployment, catalog, app):
    with app.app_context():
        email = make_user().email
    page = deployment.call("GET", f"{PREFIX}/login")
    assert page.status == 200
    assert f'action="{PREFIX}/login"' in page.text
    assert f'href="{PREFIX}/static/' in page.text
    session = page.cookies()["session"]
    assert session["path"] == PREFIX and session["secure"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    signed_in = deployment.call(
        "POST", f"{PREFIX}/login",
        raw_body=urlencode({"email": email, "password": PASSWORD, "csrf_token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        cookies={"session": session.value})
    assert signed_in.status in (302, 303), signed_in.text
    cookie = signed_in.cookies()["session"]
    assert cookie["path"] == PREFIX
    dashboard = deployment.call("GET", f"{PREFIX}/dashboard", cookies={"session": cookie.value})
    assert dashboard.status == 200 and "Sign out" in dashboard.text
    # The API too: both its cookies live under the prefix.
    answer = deployment.call("POST", f"{PREFIX}/api/v1/auth/login", {
        "email": email, "password": PASSWORD, "remember": True}, source=BOB)
    assert answer.status == 200, answer.text
    cookies = answer.cookies()
    assert {cookies["session"]["path"], cookies["remember_token"]["path"]} == {PREFIX}
    me = deployment.call("GET", f"{PREFIX}/api/v1/me", source=BOB,
                         cookies={"session": cookies["session"].value})
    assert me.status == 200 and me.json()["email"] == email
    tracks = deployment.call("GET", f"{PREFIX}/api/v1/tracks")
    assert tracks.status == 200 and {t["slug"] for t in tracks.json()["items"]} == {
        "basics", "advanced"}


def test_an_oversized_body_never_reaches_the_app(deployment, catalog):
    body = b'{"email": "a@example.org", "password": "' + b"x" * 100_000 + b'"}'
    logged_before = len(deployment.access_log())
    for path in ("/api/v1/auth/login", f"{PREFIX}/api/v1/auth/login", "/login"):
        answer = deployment.call("POST", path, raw_body=body)
        assert answer.status == 413, (path, answer.status)
        assert answer.header("Content-Type") == "application/problem+json"
        assert answer.json()["status"] == 413
    refused = deployment.logged_since(logged_before, 3)
    assert len(refused) == 3, refused
    assert all('" 413 ' in line and line.endswith("upstream=-") for line in refused), refused
    # ... and they cost nobody an attempt.
    assert login(deployment, "someone@example.org").status == 401


def test_a_chunked_oversized_body_is_refused_too(deployment, catalog):
    sock = deployment.tls_socket()
    head = (f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {HOST}:{deployment.tls_port}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    chunk = b"x" * 8192
    try:
        sock.sendall(head)
        for _ in range(12):  # 96 KiB
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # nginx may answer and close before the last chunk
    status_line = sock.recv(64).split(b"\r\n", 1)[0]
    sock.close()
    assert status_line.split()[1] == b"413", status_line


def test_readyz_and_metrics_are_internal(deployment, catalog):
    for path in ("/readyz", "//readyz", "/metrics", f"{PREFIX}/readyz", f"{PREFIX}/metrics",
                 "/api/../readyz", "/%72eadyz"):
        assert deployment.call("GET", path, source=ALICE).status == 403, path
    ready = deployment.call("GET", "/readyz", source="127.0.0.1")
    assert ready.status == 200, ready.text
    assert deployment.call("GET", f"{PREFIX}/readyz", source="127.0.0.1").status == 200
    assert deployment.call("GET", "/healthz", source=ALICE).status == 200  # liveness is harmless


def test_every_answer_has_one_hsts_header(deployment, catalog):
    for method, path, body in (("GET", "/api/v1/tracks", None), ("GET", "/login", None),
                               ("GET", "/readyz", None), ("GET", "/no-such-page", None),
                               ("POST", "/api/v1/auth/login", b"x" * 70_000)):
        answer = deployment.call(method, path, raw_body=body)
        assert answer.all("Strict-Transport-Security") == [
            "max-age=31536000; includeSubDomains"], (path, answer.status)


def test_the_catalog_is_compressed_with_vary_and_pages_are_not(deployment, catalog):
    tracks = deployment.call("GET", "/api/v1/tracks", headers={"Accept-Encoding": "gzip"})
    assert tracks.status == 200 and tracks.header("Content-Encoding") == "gzip"
    assert "accept-encoding" in {v.strip().lower() for h in tracks.all("Vary") for v in h.split(",")}
    assert gzip.decompress(tracks.body).startswith(b"{")
    page = deployment.call("GET", "/login", headers={"Accept-Encoding": "gzip"})
    assert page.header("Content-Encoding") is None  # a CSRF token beside reflected input: BREACH


def _cacheable(cache_control: str | None) -> bool:
    directives = {d.strip().split("=")[0].lower(): d for d in (cache_control or "").split(",")}
    if {"no-cache", "no-store", "private"} & directives.keys():
        return False
    return any(re.fullmatch(r"\s*(s-maxage|max-age)=0*[1-9]\d*\s*", d)
               for d in directives.values())


def test_the_catalog_cache_stores_only_what_the_app_says_it_may(deployment, catalog, app):
    def cache_statuses(lines, path):
        return [line.split("cache=")[1].split()[0] for line in lines if f" {path} HTTP/" in line]

    path = "/api/v1/tracks/basics"
    start = len(deployment.access_log())
    first = deployment.call("GET", path)
    second = deployment.call("GET", path)
    assert first.status == second.status == 200 and first.body == second.body
    statuses = cache_statuses(deployment.logged_since(start, 2), path)
    if _cacheable(first.header("Cache-Control")):
        assert statuses[-1] == "HIT", (first.header("Cache-Control"), statuses)
    else:
        assert "HIT" not in statuses, (first.header("Cache-Control"), statuses)
    # The app's ETag answers a conditional request with 304, cached or not.
    etag = first.header("ETag")
    assert etag
    assert deployment.call("GET", path, headers={"If-None-Match": etag}).status == 304
    # A learner's own answers are never stored, whatever the path.
    with app.app_context():
        email = make_user().email
    cookie = {"session": login(deployment, email, PASSWORD).cookies()["session"].value}
    start = len(deployment.access_log())
    for _ in range(2):
        assert deployment.call("GET", "/api/v1/me", cookies=cookie).status == 200
    assert "HIT" not in cache_statuses(deployment.logged_since(start, 2), "/api/v1/me")


def test_a_slow_client_holds_no_gunicorn_worker(deployment, catalog):
    """Three clients trickling their bodies (gunicorn has two sync workers): nginx holds them,
    and the next request is answered at once."""
    trickling = []
    for source in ("127.0.0.4", "127.0.0.5", "127.0.0.6"):
        sock = deployment.tls_socket(source)
        sock.sendall((f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {HOST}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").encode())
        trickling.append(sock)
    try:
        time.sleep(0.5)  # they are all waiting in nginx now, or holding a worker each
        started = time.monotonic()
        answer = deployment.call("GET", "/api/v1/tracks")
        assert answer.status == 200
        assert time.monotonic() - started < 5
    finally:
        for sock in trickling:
            sock.close()


def test_plain_http_is_sent_to_https(deployment):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", deployment.http_port, timeout=10)
    connection.request("GET", "/login?next=/dashboard", headers={"Host": HOST})
    answer = connection.getresponse()
    connection.close()
    assert answer.status == 301
    assert answer.getheader("Location") == f"https://{HOST}/login?next=/dashboard"
