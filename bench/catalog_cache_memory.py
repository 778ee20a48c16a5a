"""Does the catalog cache keep memory flat under unauthenticated ``?career=<random>`` load?

    .venv/bin/python bench/catalog_cache_memory.py                  # 60,000 requests, SQLite
    .venv/bin/python bench/catalog_cache_memory.py --requests 5000  # quicker
    .venv/bin/python bench/catalog_cache_memory.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/h3_bench

Builds a scratch database (a SQLite file under ``--workdir`` by default; a PostgreSQL URL is
dropped and recreated), applies the migrations and syncs ``content/tracks``, starts
``gunicorn wsgi:app`` with 2 sync workers, warms both workers up on the real catalog answers,
reads each worker's VmRSS from ``/proc/<pid>/status``, sends ``--requests`` GET
``/api/v1/tracks?career=<random>`` (every career distinct, from a thread pool of keep-alive
``http.client`` connections), reads VmRSS again and prints both per worker. The issue this
measures: each worker grew from 121 to 228 MiB over 60,000 such requests, one cache entry per
career, never freed until the next content sync. Every process it starts is stopped at the end,
on error and on Ctrl-C (``procs.py``); no Redis needed (rate limits off, embedded broker).
"""
from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from common import ROOT, VENV_BIN, database_name, log, port_answers, reset_database  # noqa: E402
from procs import Processes, pool_pids, rss_kib, wait_until  # noqa: E402

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
# Answers every worker serves before the first reading, so imports and real cache entries are
# already in the "before" figure and the difference is what the random careers add.
WARM_PATHS = ("/api/v1/tracks", "/api/v1/careers", "/api/v1/tracks?career=machine-learning-engineer",
              "/api/v1/tracks?career=nope", "/healthz")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=60_000, help="random-career requests (default 60000)")
    p.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--port", type=int, default=5111)
    p.add_argument("--workdir", default="/tmp/academy-bench-cache", help="scratch database and logs")
    p.add_argument("--database-url", default=None,
                   help="default: a SQLite file in --workdir; a PostgreSQL URL is dropped and recreated")
    p.add_argument("--app-root", default=str(ROOT),
                   help="checkout whose gunicorn wsgi:app is measured (default this one)")
    return p.parse_args(argv)


def environment(args, workdir: Path) -> dict:
    url = args.database_url or f"sqlite:///{workdir / 'catalog-cache.db'}"
    return {**os.environ, "ACADEMY_ENV": "development", "ACADEMY_DATABASE_URL": url,
            "ACADEMY_RATE_LIMITS": "off", "ACADEMY_SECRET_KEY": SECRET,
            "ACADEMY_MAIL_DIR": str(workdir / "mail"), "ACADEMY_LOG_FORMAT": "text",
            "ACADEMY_CONTENT_DIR": str(Path(args.app_root) / "content" / "tracks"), "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": args.app_root}


def prepare_database(env: dict, app_root: str) -> None:
    url = env["ACADEMY_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        reset_database(url)
    log(f"database {database_name(url)}: migrations, content sync")
    for argv in (["db", "upgrade"], ["academy", "content", "sync"]):
        out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *argv], cwd=app_root, env=env,
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")


def get_all(port: int, paths, clients: int) -> dict[int, int]:
    """GET every path from ``clients`` keep-alive connections; the count of each status."""
    paths = list(paths)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(paths)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: dict[int, int] = {}
        for i in iter(lambda: next(cursor, None), None):
            for attempt in (1, 2):  # a sync worker closes the connection after each answer
                try:
                    conn.request("GET", paths[i])
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.will_close:
                        conn.close()
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    status = 0
            mine[status] = mine.get(status, 0) + 1
        conn.close()
        with lock:
            for status, count in mine.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def rss_of(pids: list[int]) -> dict[int, int]:
    return {pid: rss_kib(pid) or 0 for pid in pids}


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    procs = Processes(workdir)

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        env = environment(args, workdir)
        prepare_database(env, args.app_root)
        web = procs.start("gunicorn-catalog-cache", [
            str(VENV_BIN / "gunicorn"), "--workers", str(args.workers), "--worker-class", "sync",
            "--bind", f"127.0.0.1:{args.port}", "--log-level", "warning", "wsgi:app"],
            env, cwd=args.app_root)
        wait_until(lambda: port_answers(args.port, "/healthz"), 60, "gunicorn wsgi:app", web)
        wait_until(lambda: len(pool_pids(web.pid)) == args.workers, 30, "the gunicorn workers", web)
        workers = pool_pids(web.pid)
        # Enough warm-up rounds that every worker has served every warm path several times.
        get_all(args.port, list(WARM_PATHS) * 200, args.clients)
        time.sleep(1)
        before = rss_of(workers)
        log(f"workers {workers}: sending {args.requests} GET /api/v1/tracks?career=<random>")
        started = time.perf_counter()
        statuses = get_all(args.port, (f"/api/v1/tracks?career={secrets.token_hex(8)}"
                                       for _ in range(args.requests)), args.clients)
        seconds = time.perf_counter() - started
        time.sleep(1)
        after = rss_of(workers)
        if pool_pids(web.pid) != workers:
            raise RuntimeError("a gunicorn worker was replaced during the run: figures are void")
        print(f"\n{args.requests} requests in {seconds:.1f}s ({args.requests / seconds:.0f}/s), "
              f"statuses {dict(sorted(statuses.items()))}")
        print(f"{'worker pid':>10}  {'before MiB':>10}  {'after MiB':>10}  {'growth MiB':>10}")
        for pid in workers:
            print(f"{pid:>10}  {before[pid] / 1024:>10.1f}  {after[pid] / 1024:>10.1f}  "
                  f"{(after[pid] - before[pid]) / 1024:>10.1f}")
        return 0
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
