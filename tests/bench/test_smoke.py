"""The benchmark script still works: ``bench/run.py --smoke`` end to end, at its tiniest size.

Runs the real thing (database reset and migrations, COPY seeding, gunicorn, the reference app,
both Celery workers, the SMTP sink, load, sweep, relay, the sweep and relay together as
production runs them, award latency) on a database of its own
next to the test database, and checks that it reports every section and leaves no process
behind. The figures themselves mean nothing at this size and are not checked.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys

from sqlalchemy.engine import make_url

from tests.helpers.services import ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, needs_postgres, needs_redis


def _free_port_base() -> int:
    """Three consecutive free loopback ports (app, reference, SMTP sink)."""
    for _ in range(50):
        base = random.randint(20000, 40000)
        try:
            for port in range(base, base + 3):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three consecutive free ports")


def _own_database(url: str) -> str:
    """The test database's URL naming ``<its name>_bench_smoke`` instead; a socket URL stays one."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_bench_smoke").render_as_string(hide_password=False)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@needs_postgres
@needs_redis
def test_bench_smoke_runs_end_to_end(tmp_path):
    results = tmp_path / "RESULTS.md"
    base = _free_port_base()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke",
         "--database-url", _own_database(TEST_DATABASE_URL), "--redis-url", TEST_REDIS_URL,
         "--port-base", str(base), "--workdir", str(tmp_path / "work"),
         "--results", str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 0, output[-4000:]
    report = results.read_text()
    for section in ("## 1. API", "## 2. Reminder sweep", "## 2b. Delivery", "## 2c. Reminder pipeline",
                    "## 3. Award latency", "## 4. Mail worker memory", "## 5. Connections"):
        assert section in report, report
    assert "GET /api/v1/tracks/<slug>" in report and "smtplib loop" in report
    # The pipeline phase swept its due learners and the sink took every one of their mails.
    assert "| pipeline: select, render, queue, claim, compose, send | 60 |" in report, report
    assert "0 rows were left unsent" in report.split("## 2c.")[1], report
    # Both paths to PostgreSQL served the load: some backends seen, no request failed.
    connections = report.split("## 5.")[1]
    # bench/connections.py measures the pooled path where PgBouncer is installed (CI).
    pgbouncer = shutil.which("pgbouncer") or os.path.exists("/usr/sbin/pgbouncer")
    for path in ("direct", "pooled") if pgbouncer else ("direct",):
        row = re.search(rf"\| {path} \| (\d+) \| \d+ \| \d+ \| (\d+) \|", connections)
        assert row and int(row.group(1)) >= 1 and row.group(2) == "0", connections
    # gunicorn (app and reference) and the SMTP sink it started are gone.
    assert not any(_listening(port) for port in range(base, base + 3))
