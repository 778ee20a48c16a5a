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
resulting reminders to the sink beside a bare smtplib reference; runs the whole reminder
pipeline as production does (``academy reminders run`` while the mail worker relays) beside the
same reference; measures badge award latency idle and during the relay and the mail worker's
memory. Prints a table and writes
``bench/RESULTS.md`` (``--results`` elsewhere). Every process it starts is stopped at the end,
on error and on Ctrl-C. Needs PostgreSQL and Redis (see DEVELOPERS.md) and ``wrk``
(``apt-get install -y wrk``; without it a Python load generator is used, meant for --smoke).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

# The phases are the modules beside this file, imported by name; the repo root comes after them.
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import api  # noqa: E402
import awards  # noqa: E402
import connections  # noqa: E402
import delivery  # noqa: E402
import pipeline  # noqa: E402
import sweep  # noqa: E402
from common import BENCH, ROOT, log  # noqa: E402
from report import render  # noqa: E402
from stack import Bench  # noqa: E402


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
    p.add_argument("--phases", default="api,awards,sweep,delivery,pipeline,connections",
                   help="which parts to run, comma-separated (default all: "
                        "api,awards,sweep,delivery,pipeline,connections)")
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


def run(bench: Bench) -> None:
    """Setup, then the phases asked for, in order; then the report, printed and written."""
    started = time.perf_counter()
    phases = bench.args.phases
    bench.setup_database()
    bench.wait_for_services()
    if "api" in phases:
        bench.results["api"] = api.measure(bench)
    if "awards" in phases:
        bench.results["awards_idle"] = awards.measure(bench, "worker idle", bench.args.award_samples, first=0)
    if "sweep" in phases:
        bench.results["sweep"] = sweep.measure(bench)
    if "delivery" in phases:
        bench.results.update(delivery.measure(bench))
    if "pipeline" in phases:
        bench.results["pipeline"] = pipeline.measure(bench)
    if "connections" in phases:
        bench.results["connections"] = connections.measure(bench)
    bench.results["elapsed"] = time.perf_counter() - started
    report = render(bench.results, bench)
    print(report)
    Path(bench.args.results).write_text(report)
    log(f"wrote {bench.args.results}")


def main(argv=None) -> int:
    args = parse_args(argv)
    args.app_root = str(Path(args.app_root).resolve())
    sys.path.insert(0, args.app_root)  # the in-process sweep runs the measured checkout's code
    bench = Bench(args)

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        run(bench)
        return 0
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    finally:
        bench.close()


if __name__ == "__main__":
    sys.exit(main())
