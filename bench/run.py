# ruff: noqa: E501 - the report is built from long f-strings, kept one line per table row
"""HireKit Academy benchmark: API, reminder sweep, mail delivery, award latency, worker memory.

    .venv/bin/python bench/run.py                       # full run: 100k and 1M enrollments
    .venv/bin/python bench/run.py --sizes 100000        # sweep at 100k only (faster)
    .venv/bin/python bench/run.py --smoke               # tiny, seconds: proves the script works
    make bench                                          # the full run

One command, one process tree. It recreates the PostgreSQL database ``academy_bench`` (applies
the migrations, ``flask --app wsgi academy content sync``), bulk-loads learners with COPY, starts
``gunicorn wsgi:app`` and ``gunicorn reference_app:app`` with the same settings, a Celery
worker for badges (queue ``celery``) and one for mail (queue ``mail``), and a local aiosmtpd
sink; drives the API with wrk at 16 connections; sweeps reminders at each size; relays the
resulting reminders to the sink beside a bare smtplib reference; measures badge award latency
idle and during the relay and the mail worker's memory. Prints a table and writes
``bench/RESULTS.md`` (``--results`` elsewhere). Every process it starts is stopped at the end,
on error and on Ctrl-C. Needs PostgreSQL and Redis (see DEVELOPERS.md) and ``wrk``
(``apt-get install -y wrk``; without it a Python load generator is used, meant for --smoke).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import psycopg  # noqa: E402
import seed  # noqa: E402
from procs import Processes, pool_pids, rss_kib, wait_until  # noqa: E402

VENV_BIN = Path(sys.executable).parent
# The sweep's clock: 18:00 UTC, every bench learner's reminder hour.
NOW = datetime(2026, 3, 2, 18, 0)
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
TARGETS = {"catalog": 0.9, "enrollments": 0.8, "put": 0.6}
P99_LIMIT = 1.5


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000",
                   help="enrollment counts for the reminder sweep, comma-separated (default 100000,1000000)")
    p.add_argument("--sweep-due", type=int, default=10_000,
                   help="due learners at every size, to show idle rows cost nothing (default 10000)")
    p.add_argument("--mails", type=int, default=100_000,
                   help="due reminders swept at the largest size and relayed (default 100000)")
    p.add_argument("--duration", type=float, default=6.0, help="seconds per wrk run (default 6)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved app/reference rounds (default 5)")
    p.add_argument("--clients", type=int, default=16, help="concurrent connections (default 16)")
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--mail-concurrency", type=int, default=1,
                   help="mail worker processes = SMTP connections, reference alike (default 1)")
    p.add_argument("--award-samples", type=int, default=40)
    p.add_argument("--api-learners", type=int, default=2000)
    p.add_argument("--database-url",
                   default=os.environ.get("BENCH_DATABASE_URL",
                                          "postgresql+psycopg://postgres@127.0.0.1:5432/academy_bench"))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"))
    p.add_argument("--port-base", type=int, default=5101,
                   help="app, reference and SMTP sink listen on this port and the next two")
    p.add_argument("--workdir", default="/tmp/academy-bench", help="logs and scratch files")
    p.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    p.add_argument("--load", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one short round: seconds")
    p.add_argument("--phases", default="api,awards,sweep,delivery",
                   help="which parts to run, comma-separated (default all: api,awards,sweep,delivery)")
    p.add_argument("--app-root", default=str(ROOT),
                   help="checkout whose gunicorn wsgi:app and workers are measured (e.g. an export of an "
                        "older commit, for before/after figures); default this one")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.sweep_due, args.mails = "400,800", 20, 60
        args.duration, args.rounds, args.award_samples, args.api_learners = 1, 1, 2, 40
        args.gunicorn_workers = 2
    args.sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if "delivery" in args.phases:
        args.phases.add("sweep")  # the sweep writes the outbox the delivery relays
    return args


# -- helpers -----------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def reset_database(url: str) -> None:
    parts = urlsplit(libpq_url(url))
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def http_request(port: int, method: str, path: str, token: str | None = None,
                 body: dict | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def port_answers(port: int, path: str) -> bool:
    try:
        return http_request(port, "GET", path, timeout=2)[0] == 200
    except OSError:
        return False


def machine() -> dict:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "n/a"

    cpu = "n/a"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    packages = {name: version(name) for name in ("flask", "flask-smorest", "sqlalchemy", "psycopg",
                                                 "celery", "kombu", "redis", "gunicorn", "aiosmtpd")}
    return {"nproc": run(["nproc"]), "free": run(["free", "-h"]), "cpu": cpu,
            "kernel": platform.release(), "python": platform.python_version(),
            "wrk": (run(["wrk", "-v"]).splitlines() or ["n/a"])[0] if shutil.which("wrk") else "not installed",
            "redis": run(["redis-server", "--version"]), "packages": packages}


# -- load generation ---------------------------------------------------------------------------

def write_requests(path: Path, lines: list[tuple[str, str, str | None, str | None]]) -> Path:
    with open(path, "w") as fh:
        for method, target, token, body in lines:
            fh.write(f"{method}\t{target}\t{token or '-'}\t{body or '-'}\n")
    return path


def run_wrk(port: int, requests: Path, duration: float, clients: int) -> dict:
    threads = min(2, clients)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
         "-s", str(BENCH / "load.lua"), f"http://127.0.0.1:{port}", "--", str(requests)],
        capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    summary = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    errors = sum(summary[k] for k in ("connect", "read", "write", "status", "timeout"))
    seconds = summary["duration_us"] / 1e6
    return {"rps": summary["requests"] / seconds, "p50": summary["p50_us"] / 1000,
            "p99": summary["p99_us"] / 1000, "requests": summary["requests"], "errors": errors,
            "status_errors": summary["status"]}


def run_python_load(port: int, requests: Path, duration: float, clients: int) -> dict:
    """A keep-alive HTTP/1.1 client per thread; for --smoke where wrk may be missing."""
    lines = [line.rstrip("\n").split("\t") for line in open(requests)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        i = offset
        while time.perf_counter() < stop_at:
            method, target, token, body = lines[i % len(lines)]
            i += 1
            headers = {}
            if token != "-":
                headers["Authorization"] = f"Bearer {token}"
            if body != "-":
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                conn.request(method, target, body=None if body == "-" else body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    with lock:
                        errors[0] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except OSError:
                with lock:
                    errors[0] += 1
                conn.close()
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n * max(1, len(lines) // clients),))
               for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"rps": len(latencies) / seconds, "p50": pct(latencies, 50), "p99": pct(latencies, 99),
            "requests": len(latencies), "errors": errors[0], "status_errors": errors[0]}


# -- the benchmark -----------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.procs = Processes(self.workdir)
        self.app_port, self.ref_port, self.smtp_port = args.port_base, args.port_base + 1, args.port_base + 2
        self.count_file = self.workdir / "smtp-count"
        self.count_file.unlink(missing_ok=True)  # its appearance tells that the sink is up
        self.env = {
            **os.environ,
            "ACADEMY_ENV": "development",
            "ACADEMY_DATABASE_URL": args.database_url,
            "ACADEMY_REDIS_URL": args.redis_url,
            "ACADEMY_RATE_LIMITS": "off",
            "ACADEMY_SECRET_KEY": SECRET,
            "ACADEMY_MAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}",
            "ACADEMY_MAIL_FROM": "HireKit Academy <academy@bench.example>",
            "ACADEMY_CONTENT_DIR": str(ROOT / "content" / "tracks"),
            "PYTHONUNBUFFERED": "1",
        }
        # Processes of the measured checkout import it, not this one.
        self.app_env = {**self.env, "PYTHONPATH": args.app_root}
        self.results: dict = {"machine": machine(), "started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}
        self.load = args.load
        if self.load == "auto":
            self.load = "wrk" if shutil.which("wrk") else "python"
        self.pg = None
        self.app = None
        self.learners = 0  # sweep learners seeded so far

    # -- setup ---------------------------------------------------------------------------------

    def flask(self, *argv: str) -> str:
        out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *argv], cwd=ROOT,
                             env=self.env, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def setup_database(self) -> None:
        log(f"recreating {urlsplit(libpq_url(self.args.database_url)).path.lstrip('/')}, migrations, content sync")
        reset_database(self.args.database_url)
        self.flask("db", "upgrade")
        synced = self.flask("academy", "content", "sync")
        self.results["content_sync"] = synced.strip().splitlines()[-1:] if synced.strip() else []
        self.pg = psycopg.connect(libpq_url(self.args.database_url), autocommit=True)
        self.catalog = seed.catalog(self.pg)
        # The services need only the schema to start: they boot while the data is loaded.
        self.start_services()
        started = time.perf_counter()
        with self.pg.transaction():
            seed.seed_api_users(self.pg, self.catalog, self.args.api_learners, NOW)
            seed.seed_award_users(self.pg, self.catalog, 2 * self.args.award_samples + 10, NOW)
        self.grow_learners(self.args.sizes[0] // seed.PER_LEARNER)
        log(f"seeded API, award and {self.learners * seed.PER_LEARNER} sweep enrollments "
            f"in {time.perf_counter() - started:.1f}s")

    def grow_learners(self, learners: int) -> float:
        if learners <= self.learners:
            return 0.0
        started = time.perf_counter()
        with self.pg.transaction():
            seed.seed_sweep_learners(self.pg, self.catalog, self.learners, learners, NOW)
            seed.fix_sequences(self.pg)
        self.learners = learners
        self.pg.execute("VACUUM ANALYZE")
        return time.perf_counter() - started

    def start_services(self) -> None:
        a = self.args
        py = str(VENV_BIN / "python")
        self.smtp = self.procs.start("smtp-sink", [py, str(BENCH / "smtp_sink.py"), str(self.smtp_port),
                                                   str(self.count_file)], self.env, cwd=str(ROOT))
        gunicorn = [str(VENV_BIN / "gunicorn"), "--workers", str(a.gunicorn_workers),
                    "--worker-class", "sync", "--backlog", "2048", "--log-level", "warning"]
        self.gunicorn_settings = " ".join(gunicorn[1:])
        self.web = self.procs.start("gunicorn-app", [*gunicorn, "--bind", f"127.0.0.1:{self.app_port}",
                                                     "wsgi:app"], self.app_env, cwd=a.app_root)
        self.ref = self.procs.start("gunicorn-reference", [*gunicorn, "--bind", f"127.0.0.1:{self.ref_port}",
                                                           "--pythonpath", str(BENCH), "reference_app:app"],
                                    self.env, cwd=str(ROOT))
        celery = [str(VENV_BIN / "celery"), "-A", "worker", "worker", "--loglevel", "info",
                  "--without-gossip", "--without-mingle", "--pool", "prefork"]
        self.purge_queues()
        self.badge_worker = self.procs.start(
            "worker-badges", [*celery, "-Q", "celery", "-c", "1", "-n", "bench-badges@%h"], self.app_env,
            cwd=a.app_root)
        self.mail_worker = self.procs.start(
            "worker-mail", [*celery, "-Q", "mail", "-c", str(a.mail_concurrency), "-n", "bench-mail@%h"],
            self.app_env, cwd=a.app_root)

    def wait_for_services(self) -> None:
        wait_until(lambda: self.count_file.exists(), 30, "the SMTP sink", self.smtp)
        wait_until(lambda: port_answers(self.app_port, "/healthz"), 60, "gunicorn wsgi:app", self.web)
        wait_until(lambda: port_answers(self.ref_port, "/ref/empty"), 60, "the reference app", self.ref)
        for worker in (self.badge_worker, self.mail_worker):
            wait_until(lambda w=worker: " ready." in w.tail(200), 90, f"{worker.name} to be ready", worker)
        log(f"services up: app :{self.app_port}, reference :{self.ref_port}, smtp :{self.smtp_port}, "
            f"workers {self.badge_worker.pid} (celery) and {self.mail_worker.pid} (mail)")

    def in_process_app(self):
        if self.app is None:
            os.environ.update({k: v for k, v in self.env.items() if k.startswith("ACADEMY_")})
            from academy import create_app

            self.app = create_app()
        return self.app

    def purge_queues(self) -> None:
        app = self.in_process_app()
        app.extensions["celery"].control.purge()

    # -- 1. API ------------------------------------------------------------------------------------

    def api(self) -> None:
        a = self.args
        cat = self.catalog
        wd = self.workdir
        rng = random.Random(8)
        half = a.api_learners // 2
        app_users, ref_users = range(half), range(half, 2 * half)
        catalog_lines = [("GET", f"/api/v1/tracks/{slug}", None, None) for _, slug in cat.tracks]
        empty_lines = [("GET", "/ref/empty", None, None)]
        tokens = [seed.token_secret("api", i) for i in app_users]
        rng.shuffle(tokens)
        enroll_lines = [("GET", "/api/v1/enrollments", t, None) for t in tokens]
        select_lines = [("GET", "/ref/enrollments", t, None) for t in tokens]
        body = json.dumps({"status": "completed"})

        def combos(users):
            out = []
            for i in users:
                for j, (track_id, slug) in enumerate(cat.tracks):
                    for lesson_id, lesson_slug, _ in cat.lessons[track_id]:
                        out.append((i, j, track_id, slug, lesson_id, lesson_slug))
            rng.shuffle(out)
            return out

        app_combos, ref_combos = combos(app_users), combos(ref_users)
        slices = a.rounds + 1  # one unused slice per round plus the warm-up: never the same row twice
        per = len(app_combos) // slices

        def put_files(round_no: int):
            app_part = app_combos[round_no * per:(round_no + 1) * per]
            ref_part = ref_combos[round_no * per:(round_no + 1) * per]
            app_file = write_requests(wd / f"put-app-{round_no}.tsv", [
                ("PUT", f"/api/v1/enrollments/{slug}/lessons/{lesson}", seed.token_secret("api", i), body)
                for i, _, _, slug, _, lesson in app_part])
            ref_file = write_requests(wd / f"put-ref-{round_no}.tsv", [
                ("PUT", f"/ref/completions/{seed.API_ENR_BASE + i * seed.TRACKS_PER_API_USER + j}/{lesson_id}",
                 seed.token_secret("api", i), body) for i, j, _, _, lesson_id, _ in ref_part])
            return app_file, ref_file

        files = {
            "catalog": (write_requests(wd / "catalog.tsv", catalog_lines), write_requests(wd / "empty.tsv", empty_lines)),
            "enrollments": (write_requests(wd / "enrollments.tsv", enroll_lines),
                            write_requests(wd / "select.tsv", select_lines)),
        }
        # Sanity: each request the load sends answers 2xx on both sides.
        for name, (app_file, ref_file) in [*files.items(), ("put", put_files(a.rounds))]:
            for port, path in ((self.app_port, app_file), (self.ref_port, ref_file)):
                method, target, token, payload = open(path).readline().rstrip("\n").split("\t")
                status, content = http_request(port, method, target, None if token == "-" else token,
                                               None if payload == "-" else json.loads(payload))
                if status >= 300:
                    raise RuntimeError(f"{name}: {method} {target} on :{port} answered {status}: {content[:300]!r}")
        drive = run_wrk if self.load == "wrk" else run_python_load
        log(f"API: {a.rounds} round(s) of {a.duration:g}s per side at {a.clients} clients ({self.load})")
        # Warm-up: every gunicorn worker imports, connects and fills its caches before measuring.
        warm = min(2.0, a.duration)
        app_warm, ref_warm = put_files(a.rounds)
        for app_file, ref_file in ([] if a.smoke else [*files.values(), (app_warm, ref_warm)]):
            drive(self.app_port, app_file, warm, a.clients)
            drive(self.ref_port, ref_file, warm, a.clients)
        runs = {name: {"app": [], "ref": []} for name in ("catalog", "enrollments", "put")}
        for round_no in range(a.rounds):
            round_files = dict(files, put=put_files(round_no))
            for name in ("catalog", "enrollments", "put"):
                app_file, ref_file = round_files[name]
                order = [("app", self.app_port, app_file), ("ref", self.ref_port, ref_file)]
                if round_no % 2:
                    order.reverse()  # neither side always runs first
                for side, port, path in order:
                    result = drive(port, path, a.duration, a.clients)
                    runs[name][side].append(result)
                    log(f"  {name:11} {side}: {result['rps']:7.1f} req/s  p50 {result['p50']:6.2f} ms  "
                        f"p99 {result['p99']:6.2f} ms  errors {result['errors']}")
        api = {}
        for name, sides in runs.items():
            summary = {}
            for side, results in sides.items():
                summary[side] = {
                    "rps": statistics.median(r["rps"] for r in results),
                    "p50": statistics.median(r["p50"] for r in results),
                    "p99": statistics.median(r["p99"] for r in results),
                    "requests": sum(r["requests"] for r in results),
                    "errors": sum(r["errors"] for r in results),
                    "rounds": [round(r["rps"], 1) for r in results],
                }
            # Ratios are paired by round (app and reference back to back) and the median taken:
            # a neighbour's load that comes and goes then weighs on both sides of each pair.
            pairs = list(zip(sides["app"], sides["ref"]))
            summary["ratio"] = statistics.median(app["rps"] / ref["rps"] for app, ref in pairs)
            summary["p99_ratio"] = statistics.median(app["p99"] / ref["p99"] for app, ref in pairs)
            summary["round_ratios"] = [round(app["rps"] / ref["rps"], 2) for app, ref in pairs]
            api[name] = summary
        self.results["api"] = api

    # -- 3. award latency ------------------------------------------------------------------------

    def award_once(self, index: int, poll: psycopg.Connection) -> float:
        track_id, slug = self.catalog.tracks[0]
        last_lesson = self.catalog.lessons[track_id][-1][1]
        user_id = seed.AWARD_USER_BASE + index
        started = time.perf_counter()
        status, content = http_request(self.app_port, "PUT",
                                       f"/api/v1/enrollments/{slug}/lessons/{last_lesson}",
                                       seed.token_secret("award", index), {"status": "completed"})
        if status != 200 or json.loads(content)["status"] != "completed":
            raise RuntimeError(f"award PUT answered {status}: {content[:300]!r}")
        deadline = started + 60
        while time.perf_counter() < deadline:
            row = poll.execute(
                "SELECT 1 FROM badge_award a JOIN badge_class c ON c.id = a.badge_class_id "
                "WHERE a.user_id = %s AND c.track_id = %s", (user_id, track_id)).fetchone()
            if row:
                return time.perf_counter() - started
            time.sleep(0.005)
        raise RuntimeError(f"no badge_award row for learner {user_id} after 60 s")

    def awards(self, label: str, samples: int, first: int, until=None, spacing: float = 0.25) -> dict:
        latencies = []
        with psycopg.connect(libpq_url(self.args.database_url), autocommit=True) as poll:
            for n in range(samples):
                if until is not None and until():
                    break
                latencies.append(self.award_once(first + n, poll))
                time.sleep(spacing)
        if not latencies:
            return {"samples": 0}
        result = {"samples": len(latencies), "p50": pct(latencies, 50), "p95": pct(latencies, 95),
                  "max": max(latencies)}
        log(f"award latency ({label}): p50 {result['p50'] * 1000:.0f} ms, p95 {result['p95'] * 1000:.0f} ms, "
            f"max {result['max'] * 1000:.0f} ms over {len(latencies)}")
        return result

    # -- 2. reminder sweep ---------------------------------------------------------------------

    def sweep_once(self, due: int) -> dict:
        from academy.extensions import db
        from academy.notifications import reminders, service

        app = self.in_process_app()
        with self.pg.transaction():
            marked = seed.set_due(self.pg, self.learners, due, NOW)
        self.pg.execute("VACUUM ANALYZE enrollment")
        self.pg.execute("VACUUM ANALYZE outbox_message")
        # The measured sweep writes the outbox; delivery is measured on its own afterwards, so
        # the after-commit "relay now" publish is held back here (beat's relay would take it).
        publish, service._publish_relay = service._publish_relay, lambda: None
        try:
            with app.app_context():
                started = time.perf_counter()
                sent = reminders.sweep(NOW)
                seconds = time.perf_counter() - started
                db.session.remove()
        finally:
            service._publish_relay = publish
        queued = self.pg.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                                 "AND status = 'pending'").fetchone()[0]
        enrollments = self.pg.execute("SELECT count(*) FROM enrollment WHERE id >= %s",
                                      (seed.SWEEP_ENR_BASE,)).fetchone()[0]
        if len(sent) != marked or queued != marked:
            raise RuntimeError(f"sweep sent {len(sent)} and queued {queued}, expected {marked}")
        result = {"enrollments": enrollments, "due": marked, "seconds": seconds,
                  "per_due_ms": seconds / max(marked, 1) * 1000}
        log(f"sweep: {enrollments} enrollments, {marked} due: {seconds:.2f}s "
            f"({result['per_due_ms']:.2f} ms per due learner)")
        return result

    def sweeps(self) -> None:
        a = self.args
        runs = []
        for size in a.sizes:
            grown = self.grow_learners(size // seed.PER_LEARNER)
            if grown:
                log(f"grew the sweep population to {self.learners * seed.PER_LEARNER} enrollments in {grown:.1f}s")
            runs.append(self.sweep_once(min(a.sweep_due, self.learners)))
        # The same largest population with many more due: time follows the due learners.
        runs.append(self.sweep_once(min(a.mails, self.learners)))
        self.results["sweep"] = runs

    # -- 2b. delivery, 3b. awards under load, 4. memory ----------------------------------------

    def fill_outbox(self, count: int) -> int:
        """Top the pending reminders up to ``count`` by copying swept ones (new keys and
        Message-IDs) when the largest population had fewer learners than ``count``."""
        have = self.pg.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                               "AND status = 'pending'").fetchone()[0]
        copies = 0
        while have < count:
            take = min(have, count - have)
            copies += 1
            self.pg.execute("""
                INSERT INTO outbox_message (key, user_id, to_address, category, template, subject,
                    text_body, html_body, headers, message_id, status, attempts, next_attempt_at, created_at)
                SELECT key || ':copy' || %(n)s, user_id, to_address, category, template, subject,
                       text_body, html_body, headers,
                       replace(message_id, '@', '.c' || %(n)s || '@'), status, 0, next_attempt_at, created_at
                FROM outbox_message WHERE category = 'reminder' AND status = 'pending'
                  AND key NOT LIKE '%%:copy%%' ORDER BY id LIMIT %(take)s""", {"n": copies, "take": take})
            have += take
        self.pg.execute("VACUUM ANALYZE outbox_message")
        return copies

    def reference_messages(self) -> Path:
        from academy.notifications.relay import claim_due  # noqa: F401 - same import path as the relay
        from academy.notifications.transport import Outgoing, compose, envelope_sender, sender_header

        mail_from = self.env["ACADEMY_MAIL_FROM"]
        rows = self.pg.execute(
            "SELECT id, to_address, subject, text_body, html_body, message_id, created_at, headers "
            "FROM outbox_message WHERE category = 'reminder' ORDER BY id LIMIT 200").fetchall()
        messages = [(envelope_sender(mail_from), row[1],
                     compose(Outgoing(*row[:7], row[7] or {}), sender_header(mail_from)))
                    for row in rows]
        path = self.workdir / "reference-messages.pickle"
        path.write_bytes(pickle.dumps(messages))
        self.results["mail_size"] = statistics.mean(len(m[2]) for m in messages)
        return path

    def sink_count(self) -> int:
        try:
            return int(self.count_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def smtp_reference(self, count: int, messages: Path, label: str) -> dict:
        before = self.sink_count()
        out = subprocess.run([str(VENV_BIN / "python"), str(BENCH / "smtp_reference.py"), str(self.smtp_port),
                              str(count), str(self.args.mail_concurrency), str(messages)],
                             capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise RuntimeError(f"smtp reference failed: {out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["rate"] = result["messages"] / result["seconds"]
        time.sleep(0.5)
        log(f"smtplib reference ({label}): {result['messages']} messages in {result['seconds']:.1f}s = "
            f"{result['rate']:.0f}/s over {self.args.mail_concurrency} connection(s) "
            f"(sink counted {self.sink_count() - before})")
        return result

    def delivery(self) -> None:
        a = self.args
        count = a.mails
        copies = self.fill_outbox(count)
        pending = self.pg.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                                  "AND status = 'pending'").fetchone()[0]
        messages = self.reference_messages()
        # The reference runs just before and just after the pipeline, on the same sink and the
        # same number of connections; the ratio takes their mean, so a neighbour's load that
        # comes or goes during the run weighs on both sides alike.
        reference = self.smtp_reference(pending, messages, "before")
        # The pipeline: relay tasks on the mail worker claim, compose, send and mark.
        from academy.notifications.tasks import relay_outbox

        self.in_process_app()
        rss: list[tuple[float, int, int]] = []  # (t, sent so far, summed pool VmRSS KiB)
        done = threading.Event()
        pools = pool_pids(self.mail_worker.pid)
        sent_counter = {"sent": 0}

        def sample_memory():
            while not done.is_set():
                values = [rss_kib(pid) for pid in pools]
                values = [v for v in values if v]
                if values:
                    rss.append((time.perf_counter() - started, sent_counter["sent"], sum(values)))
                done.wait(0.5)

        before = self.sink_count()
        started = time.perf_counter()
        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        for _ in range(a.mail_concurrency):
            relay_outbox.apply_async(queue="mail")
        award_result: dict = {}
        loaded = threading.Thread(target=lambda: award_result.update(self.awards(
            "during the relay", a.award_samples, first=a.award_samples + 5, until=done.is_set, spacing=0.5)))
        # Give the relay a moment to get going so the awards really overlap with it.
        time.sleep(min(2.0, 0.02 * count / 10))
        loaded.start()
        poll = psycopg.connect(libpq_url(a.database_url), autocommit=True)
        try:
            deadline = time.perf_counter() + max(600, count / 50)
            while True:
                sent = poll.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                                    "AND status = 'sent'").fetchone()[0]
                sent_counter["sent"] = sent
                if sent >= pending:
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"relay stalled at {sent}/{pending}:\n{self.mail_worker.tail()}")
                if not self.mail_worker.alive():
                    raise RuntimeError(f"mail worker died:\n{self.mail_worker.tail()}")
                time.sleep(0.2)
            seconds = time.perf_counter() - started
        finally:
            done.set()
            poll.close()
        loaded.join()
        sampler.join()
        failed = self.pg.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                                 "AND status <> 'sent'").fetchone()[0]
        sink_during = self.sink_count() - before
        after = self.smtp_reference(pending, messages, "after")
        reference = {"messages": pending, "before": reference, "after": after,
                     "seconds": (reference["seconds"] + after["seconds"]) / 2}
        reference["rate"] = pending / reference["seconds"]
        pipeline = {"messages": pending, "seconds": seconds, "rate": pending / seconds,
                    "not_sent": failed, "sink": sink_during, "copies": copies}
        log(f"relay pipeline: {pending} messages in {seconds:.1f}s = {pipeline['rate']:.0f}/s "
            f"({pipeline['rate'] / reference['rate']:.2f}x the reference)")
        self.results["delivery"] = {"reference": reference, "pipeline": pipeline,
                                    "ratio": pipeline["rate"] / reference["rate"],
                                    "connections": a.mail_concurrency}
        self.results["awards_loaded"] = award_result
        self.results["memory"] = self.memory_summary(rss, pending)

    def memory_summary(self, rss: list[tuple[float, int, int]], total: int) -> dict:
        if not rss:
            return {}
        # Baseline once the batch is under way (the first relay batch loads the modules it uses).
        warm = [s for s in rss if s[1] >= min(1000, total // 20)] or rss
        base = warm[0][2]
        values = [s[2] for s in warm]
        return {"samples": len(rss), "cold_kib": rss[0][2], "base_kib": base, "min_kib": min(values),
                "max_kib": max(values), "end_kib": rss[-1][2],
                "drift": (max(values) - base) / base, "dip": (min(values) - base) / base,
                "series": [(round(t, 1), sent, kib) for t, sent, kib in rss[:: max(1, len(rss) // 12)]]}

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> None:
        started = time.perf_counter()
        phases = self.args.phases
        self.setup_database()
        self.wait_for_services()
        if "api" in phases:
            self.api()
        if "awards" in phases:
            self.results["awards_idle"] = self.awards("worker idle", self.args.award_samples, first=0)
        if "sweep" in phases:
            self.sweeps()
        if "delivery" in phases:
            self.delivery()
        self.results["elapsed"] = time.perf_counter() - started
        report = render(self.results, self)
        print(report)
        Path(self.args.results).write_text(report)
        log(f"wrote {self.args.results}")

    def close(self) -> None:
        self.procs.stop_all()
        if self.pg is not None:
            self.pg.close()


# -- report ------------------------------------------------------------------------------------

def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def render(r: dict, bench: Bench) -> str:
    a = bench.args
    m = r["machine"]
    lines = ["# Benchmark results", "",
             f"`{r['command']}` on {r['started']} ({r['elapsed'] / 60:.1f} min). "
             "Every ratio compares figures from this same run.", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, `nproc` = {m['nproc']}; kernel {m['kernel']}",
             "- `free -h`:", "", "```", m["free"], "```", "",
             f"- Python {m['python']}; {m['wrk']}; {m['redis']}",
             "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
             f"- PostgreSQL {bench.pg.info.server_version // 10000}.{bench.pg.info.server_version % 10000}"
             if bench.pg else "",
             f"- gunicorn (app and references alike): `{bench.gunicorn_settings}`; Celery workers: "
             f"`-Q celery -c 1` (badges) and `-Q mail -c {a.mail_concurrency}` (mail), prefork",
             f"- load: {bench.load}, {a.clients} connections, {a.rounds} interleaved round(s) of "
             f"{a.duration:g}s per side; figures are the median of the rounds", "",
             f"- measured checkout: {a.app_root}", ""]
    if "api" in r:
        lines += api_section(r, a)
    if "sweep" in r:
        lines += sweep_section(r)
    if "delivery" in r:
        lines += delivery_section(r)
    if "awards_idle" in r or "awards_loaded" in r:
        lines += awards_section(r)
    if r.get("memory"):
        lines += memory_section(r)
    lines.append("")
    notes = BENCH / "NOTES.md"
    if notes.exists() and not a.smoke:
        lines += [notes.read_text()]
    return "\n".join(lines)


def api_section(r: dict, a) -> list[str]:
    lines = ["## 1. API at 16 concurrent clients", "",
             "| endpoint | req/s | p50 ms | p99 ms | reference | ref req/s | ref p50 | ref p99 | "
             "throughput ratio (target) | p99 ratio (target ≤ 1.5) | met |",
             "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    names = {"catalog": ("GET /api/v1/tracks/<slug>", "bare Flask `{}`"),
             "enrollments": ("GET /api/v1/enrollments", "one SELECT"),
             "put": ("PUT …/lessons/<lesson>", "one upsert + one count")}
    for key, (label, ref_label) in names.items():
        s = r["api"][key]
        met = s["ratio"] >= TARGETS[key] and s["p99_ratio"] <= P99_LIMIT
        lines.append(f"| {label} | {s['app']['rps']:.0f} | {s['app']['p50']:.2f} | {s['app']['p99']:.2f} | "
                     f"{ref_label} | {s['ref']['rps']:.0f} | {s['ref']['p50']:.2f} | {s['ref']['p99']:.2f} | "
                     f"{s['ratio']:.2f} (≥ {TARGETS[key]}) | {s['p99_ratio']:.2f} | {_ok(met)} |")
    lines += ["", "Throughput and p99 ratios are medians of the per-round ratios (app and reference back to back); "
              "the absolute figures are medians of the rounds. Per-round throughput ratios: " + "; ".join(
                  f"{k} {r['api'][k]['round_ratios']}" for k in names) + ".",
              "Per-round req/s (app / reference): " + "; ".join(
        f"{k} {r['api'][k]['app']['rounds']} / {r['api'][k]['ref']['rounds']}" for k in names),
        "Errors (non-2xx or socket): " + ", ".join(
        f"{k} {r['api'][k]['app']['errors']}/{r['api'][k]['ref']['errors']}" for k in names), ""]
    return lines


def sweep_section(r: dict) -> list[str]:
    lines = ["## 2. Reminder sweep (select due learners, render, write the outbox)", "",
              "| enrollments | due learners | seconds | ms per due learner |", "| ---: | ---: | ---: | ---: |"]
    for s in r["sweep"]:
        lines.append(f"| {s['enrollments']:,} | {s['due']:,} | {s['seconds']:.2f} | {s['per_due_ms']:.2f} |")
    sw = r["sweep"]
    if len(sw) >= 3:
        lines += ["", f"Same due count, {sw[-2]['enrollments'] / sw[0]['enrollments']:.0f}x the idle rows: "
                  f"{sw[-2]['seconds'] / sw[0]['seconds']:.2f}x the time. Same population, "
                  f"{sw[-1]['due'] / sw[-2]['due']:.0f}x the due learners: {sw[-1]['seconds'] / sw[-2]['seconds']:.2f}x the time."]
    lines.append("")
    return lines


def delivery_section(r: dict) -> list[str]:
    d = r["delivery"]
    ref, pipe = d["reference"], d["pipeline"]
    lines = ["## 2b. Delivery to a local aiosmtpd sink", "",
              f"{pipe['messages']:,} reminders of {r['mail_size']:.0f} bytes on average, "
              f"{d['connections']} SMTP connection(s) on both sides"
              + (f" (the outbox was topped up by copying swept rows {pipe['copies']}x)" if pipe["copies"] else "") + ".",
              "", "| | messages | seconds | msg/s | ratio (target ≥ 0.5) | met |", "| --- | ---: | ---: | ---: | ---: | --- |",
              f"| smtplib loop, pre-rendered (reference), just before | {ref['messages']:,} | "
              f"{ref['before']['seconds']:.1f} | {ref['before']['rate']:.0f} | | |",
              f"| smtplib loop, pre-rendered (reference), just after | {ref['messages']:,} | "
              f"{ref['after']['seconds']:.1f} | {ref['after']['rate']:.0f} | | |",
              f"| reference, mean of the two | {ref['messages']:,} | {ref['seconds']:.1f} | {ref['rate']:.0f} | | |",
              f"| outbox relay: claim, compose, send, mark sent | {pipe['messages']:,} | {pipe['seconds']:.1f} | "
              f"{pipe['rate']:.0f} | {d['ratio']:.2f} | {_ok(d['ratio'] >= 0.5)} |", "",
              f"The sink accepted {pipe['sink']:,} messages during the relay; {pipe['not_sent']} rows were left unsent.", ""]
    return lines


def awards_section(r: dict) -> list[str]:
    idle, loaded = r.get("awards_idle") or {}, r.get("awards_loaded") or {}
    lines = ["## 3. Award latency (PUT completing a track → badge_award row visible)", "",
              "| condition | samples | p50 ms | p95 ms | max ms | target p95 | met |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for label, s, target in (("worker idle", idle, 1.0), ("during the relay", loaded, 5.0)):
        if s.get("samples"):
            lines.append(f"| {label} | {s['samples']} | {s['p50'] * 1000:.0f} | {s['p95'] * 1000:.0f} | "
                         f"{s['max'] * 1000:.0f} | {target * 1000:.0f} | {_ok(s['p95'] <= target)} |")
        else:
            lines.append(f"| {label} | 0 | | | | {target * 1000:.0f} | not measured |")
    lines += ["", "Measured from sending the PUT to the row being visible to another connection "
              "(polled every 5 ms); badges on queue `celery`, mail on queue `mail`, separate workers.", ""]
    return lines


def memory_section(r: dict) -> list[str]:
    mem = r["memory"]
    lines = ["## 4. Mail worker memory across the batch (VmRSS of its pool processes)", ""]
    if mem:
        lines += [f"Cold {mem['cold_kib'] / 1024:.1f} MiB; once under way {mem['base_kib'] / 1024:.1f} MiB; "
                  f"min {mem['min_kib'] / 1024:.1f}, max {mem['max_kib'] / 1024:.1f}, end {mem['end_kib'] / 1024:.1f} MiB: "
                  f"{mem['drift'] * 100:+.1f}% / {mem['dip'] * 100:+.1f}% (target within ±10%: "
                  f"{_ok(abs(mem['drift']) <= 0.1 and abs(mem['dip']) <= 0.1)}); {mem['samples']} samples.", "",
                  "| s | sent | KiB |", "| ---: | ---: | ---: |"]
        lines += [f"| {t} | {sent:,} | {kib:,} |" for t, sent, kib in mem["series"]]
    lines.append("")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    args.app_root = str(Path(args.app_root).resolve())
    sys.path.insert(0, args.app_root)  # the in-process sweep runs the measured checkout's code
    bench = Bench(args)

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        bench.run()
        return 0
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    finally:
        bench.close()


if __name__ == "__main__":
    sys.exit(main())
