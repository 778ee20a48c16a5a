"""How many connections PostgreSQL sees: a deployment's processes direct and through PgBouncer.

Two web instances of ``gunicorn wsgi:app`` with 4 workers each and two Celery workers with 4
children each (the contract's example) run against the bench database, first directly and then
through a PgBouncer in transaction mode (``.ci/pgbouncer``, from ``ops/pgbouncer/pgbouncer.ini``)
with ``ACADEMY_DATABASE_POOLER=transaction``. While wrk loads both web instances and the workers
run a burst of tasks, a separate connection counts the bench database's backends in
``pg_stat_activity`` every 20 ms; the figure is the most seen at once.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import seed
from common import ROOT, VENV_BIN, database_name, libpq_url, log, port_answers
from loadgen import run_python_load, run_wrk, write_requests
from procs import wait_until
from sqlalchemy.engine import make_url

WEB_INSTANCES, WEB_WORKERS = 2, 4
WORKERS, WORKER_CHILDREN = 2, 4


def _pgbouncer(bench, port: int) -> Path:
    # Straight under /tmp: PgBouncer runs as ``postgres`` when we are root, and must reach it.
    directory = Path(tempfile.mkdtemp(prefix="academy-bench-pgbouncer-"))
    subprocess.run([str(ROOT / ".ci" / "pgbouncer"), str(port)], check=True, timeout=60,
                   env={**os.environ, "PGBOUNCER_DIR": str(directory)})
    return directory / "pgbouncer.pid"


def _stop_pgbouncer(pidfile: Path) -> None:
    try:
        os.kill(int(pidfile.read_text().strip()), 15)
    except (OSError, ValueError):
        pass
    for _ in range(50):  # its pid file goes when it has stopped
        if not pidfile.exists():
            break
        time.sleep(0.1)
    shutil.rmtree(pidfile.parent, ignore_errors=True)


class _Counter(threading.Thread):
    """Samples the database's backends (its own excluded) until stopped; keeps the peak."""

    def __init__(self, url: str, name: str):
        super().__init__(daemon=True)
        self.url, self.name, self.peak, self.samples = url, name, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(libpq_url(self.url), autocommit=True) as conn:
            while not self.done.is_set():
                count = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                     "AND pid <> pg_backend_pid()", (self.name,)).fetchone()[0]
                self.peak, self.samples = max(self.peak, count), self.samples + 1
                time.sleep(0.02)


def _sizes(bench) -> tuple[int, int]:
    """(gunicorn workers per instance, children per Celery worker): one each for --smoke."""
    return (1, 1) if bench.args.smoke else (WEB_WORKERS, WORKER_CHILDREN)


def _one(bench, mode: str, url: str, seconds: float, port_base: int) -> dict:
    a = bench.args
    web_workers, worker_children = _sizes(bench)
    env = {**bench.app_env, "ACADEMY_DATABASE_URL": url,
           "ACADEMY_DATABASE_POOLER": "transaction" if mode == "pooled" else "none"}
    children = []
    ports = [port_base + i for i in range(WEB_INSTANCES)]
    for i, port in enumerate(ports):
        children.append(bench.procs.start(
            f"conn-{mode}-web{i}", [str(VENV_BIN / "gunicorn"), "--workers", str(web_workers),
                                    "--worker-class", "sync", "--log-level", "warning",
                                    "--bind", f"127.0.0.1:{port}", "wsgi:app"], env, cwd=a.app_root))
    for i in range(WORKERS):
        children.append(bench.procs.start(
            f"conn-{mode}-worker{i}", [str(VENV_BIN / "celery"), "-A", "worker", "worker",
                                       "--loglevel", "info", "--without-gossip", "--without-mingle",
                                       "-Q", "celery", "-c", str(worker_children),
                                       "-n", f"conn-{mode}-{i}@%h"], env, cwd=a.app_root))
    try:
        for port, child in zip(ports, children):
            wait_until(lambda p=port: port_answers(p, "/healthz"), 60, f"web :{port}", child)
        for child in children[WEB_INSTANCES:]:
            wait_until(lambda c=child: " ready." in c.tail(200), 90, f"{child.name}", child)
        tokens = [seed.token_secret("api", i) for i in range(min(200, a.api_learners))]
        requests = write_requests(bench.workdir / "connections.tsv",
                                  [("GET", "/api/v1/enrollments", t, None) for t in tokens])
        counter = _Counter(bench.args.database_url, database_name(bench.args.database_url))
        counter.start()
        celery = bench.in_process_app().extensions["celery"]
        # Award tasks for enrollments that are not complete: each child reads and does nothing.
        enrollment_ids = [seed.API_ENR_BASE + i for i in range(400)]
        for enrollment_id in enrollment_ids:
            celery.send_task("academy.badges.award_for_enrollment", args=[enrollment_id],
                             queue="celery")
        drive = run_wrk if bench.load == "wrk" else run_python_load
        results = []
        threads = [threading.Thread(target=lambda p=port: results.append(
            drive(p, requests, seconds, a.clients))) for port in ports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counter.done.set()
        counter.join()
        return {"mode": mode, "processes": processes(web_workers, worker_children),
                "peak": counter.peak, "samples": counter.samples,
                "rps": sum(r["rps"] for r in results),
                "errors": sum(r["errors"] for r in results)}
    finally:
        for child in children:
            bench.procs.stop(child)


def pgbouncer_installed() -> bool:
    return bool(shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists())


def measure(bench) -> dict:
    a = bench.args
    seconds = max(2.0, a.duration)
    pool_port = a.port_base + 20
    direct = _one(bench, "direct", a.database_url, seconds, a.port_base + 10)
    if not pgbouncer_installed():
        log("connections: PgBouncer is not installed (apt-get install -y pgbouncer); direct only")
        return {"processes": direct.pop("processes"), "pool": POOL, "runs": [direct],
                "missing": "PgBouncer is not installed: `apt-get install -y pgbouncer`"}
    pidfile = _pgbouncer(bench, pool_port)
    try:
        pooled_url = make_url(a.database_url).set(port=pool_port).render_as_string(hide_password=False)
        pooled = _one(bench, "pooled", pooled_url, seconds, a.port_base + 10)
    finally:
        _stop_pgbouncer(pidfile)
    pooled.pop("processes")
    log(f"connections PostgreSQL saw: direct {direct['peak']}, through PgBouncer {pooled['peak']}")
    return {"processes": direct.pop("processes"), "pool": POOL, "runs": [direct, pooled]}


POOL = "pool_size 5, max_overflow 10 per process (the defaults)"


def processes(web_workers: int, worker_children: int) -> str:
    return (f"{WEB_INSTANCES} web instances x {web_workers} gunicorn workers + "
            f"{WORKERS} Celery workers x {worker_children} children")
