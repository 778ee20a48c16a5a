"""What is measured: the machine, the bench database with its learners, and the services on it."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import seed
from common import BENCH, NOW, ROOT, VENV_BIN, connect, database_name, log, port_answers, reset_database
from procs import Processes, wait_until

SECRET = "bench-secret-key-that-is-long-enough-0123456789"


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
            "wrk": ((run(["wrk", "-v"]).splitlines() or ["n/a"])[0] if shutil.which("wrk")
                    else "not installed"),
            "redis": run(["redis-server", "--version"]), "packages": packages}


def self_completed_content(workdir: Path) -> Path:
    """The course content with every lesson completed by a PUT: a copy without ``check`` and
    ``evidence``. The benchmark measures the PUT path against its reference (a check's grading
    is a path of its own, not measured here)."""
    import yaml

    target = workdir / "content-tracks"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "content" / "tracks", target)
    for lesson in target.glob("*/lessons/*.md"):
        text = lesson.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        data = yaml.safe_load(front)
        removed = [data.pop(key, None) for key in ("check", "evidence")]
        if any(value is not None for value in removed):
            lesson.write_text(f"---\n{yaml.safe_dump(data, sort_keys=False, allow_unicode=True)}"
                              f"---\n{body}", encoding="utf-8")
    return target


class Bench:
    """The state one run shares between its phases; ``close`` stops every process it started."""

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
            "ACADEMY_CONTENT_DIR": str(self_completed_content(self.workdir)),
            "PYTHONUNBUFFERED": "1",
        }
        # Processes of the measured checkout import it, not this one.
        self.app_env = {**self.env, "PYTHONPATH": args.app_root}
        self.results: dict = {"machine": machine(),
                              "started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}
        self.load = args.load
        if self.load == "auto":
            self.load = "wrk" if shutil.which("wrk") else "python"
        self.pg = None
        self.app = None
        self.learners = 0  # sweep learners seeded so far

    def flask(self, *argv: str) -> str:
        out = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *argv], cwd=ROOT,
                             env=self.env, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def setup_database(self) -> None:
        log(f"recreating {database_name(self.args.database_url)}, migrations, content sync")
        reset_database(self.args.database_url)
        self.flask("db", "upgrade")
        synced = self.flask("academy", "content", "sync")
        self.results["content_sync"] = synced.strip().splitlines()[-1:] if synced.strip() else []
        self.pg = connect(self.args.database_url)
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

    def close(self) -> None:
        self.procs.stop_all()
        if self.pg is not None:
            self.pg.close()
