"""Run the fault-injection suite and rewrite RELIABILITY.md's tables from what it observed.

    ACADEMY_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/academy_faults \\
    ACADEMY_TEST_REDIS_URL=redis://127.0.0.1:6379/11 .venv/bin/python tests/faults/report.py

Extra arguments go to pytest (``-k widest``). The tests write their figures through the
``record`` fixture into a JSON file named by ``ACADEMY_FAULTS_REPORT``; this script renders them
between the ``<!-- BEGIN … -->`` / ``<!-- END … -->`` markers and leaves the prose alone. Exits
with pytest's status, so a red suite is a red report.
"""
from __future__ import annotations

import ast
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TARGET = ROOT / "RELIABILITY.md"
REPORT_ENV = "ACADEMY_FAULTS_REPORT"


def _f(figures: dict, key: str, default="?"):
    return figures.get(key, default)


# One row per fault: (module, fault, how it is injected, what must hold, observed(test, figures)).
def _killed(name: str, f: dict) -> str:
    where = "at the widest point" if "widest" in name else "at an arbitrary point"
    return (f"kill {where}: {_f(f, 'received_before_kill')} of {_f(f, 'mails')} received before "
            f"the kill, {_f(f, 'stranded')} rows left under the dead lease; "
            f"{_f(f, 'received')} received in all = **{_f(f, 'duplicates')} duplicates** "
            f"(bound {_f(f, 'bound')}), {_f(f, 'distinct_message_ids')} distinct Message-IDs; "
            f"all sent {_f(f, 'recovery_seconds')} s after the restart")


def _duplicate(name: str, f: dict) -> str:
    return (f"{_f(f, 'award_tasks')} award runs and {_f(f, 'relay_tasks')} relay runs on 2 "
            f"workers: {_f(f, 'badges')} badges (expected {_f(f, 'expected_badges')}), "
            f"{_f(f, 'mails_received')} mails, **{_f(f, 'duplicates')} duplicates**; "
            f"settled in {_f(f, 'seconds')} s")


def _beats(name: str, f: dict) -> str:
    if "at_once" in name:
        return (f"2 sweeps at the same instant over {_f(f, 'learners')} learners: "
                f"**{_f(f, 'sweeps_failed')} failed**, {_f(f, 'mailed_now')} mailed now, "
                f"{_f(f, 'waiting_for_next_sweep')} left for a later sweep, "
                f"{_f(f, 'duplicates')} duplicates")
    sent = _f(f, "sweeps_sent_per_beat", [])
    return (f"2 beats × {' and '.join(map(str, sent))} sweep periods ({_f(f, 'seconds')} s): "
            f"{_f(f, 'sweeps_run')} sweeps ran, up to {_f(f, 'sweeps_at_once')} at once, "
            f"{_f(f, 'sweeps_failed')} failed; {_f(f, 'reminder_mails')} mails for "
            f"{_f(f, 'learners')} learners, **{_f(f, 'duplicates')} duplicates**; "
            f"{_f(f, 'mails_listing_both_tracks')} mails list both stalled tracks")


def _redis(name: str, f: dict) -> str:
    exits = f.get("worker_exits") or []
    died = (f"; **the worker process exited** ({exits[0]}) and was started again, as a "
            "supervisor would" if exits else "; worker and beat reconnected by themselves")
    return (f"Redis killed after {_f(f, 'delivered_when_redis_died')} of {_f(f, 'mails')} mails; "
            f"{_f(f, 'delivered_while_down')} more delivered while it was down; requests took "
            f"{_f(f, 'request_seconds_while_down')} s each meanwhile; down "
            f"{_f(f, 'outage_seconds')} s; everything done {_f(f, 'recovery_seconds')} s after it "
            f"returned; {_f(f, 'badges')} badge (by the reconciler), "
            f"**{_f(f, 'duplicates')} duplicates**{died}")


def _postgres(name: str, f: dict) -> str:
    if "repeated" in name:
        return (f"{_f(f, 'drops')} drops in 3 s ({_f(f, 'backends_ended')} backends ended) under "
                f"{_f(f, 'requests')} requests: {_f(f, 'answered_200')} × 200, "
                f"{_f(f, 'answered_503')} × 503, **{_f(f, 'answered_other')} other**")
    if "answer_is_made" in name:
        escaped = f.get("escaped_the_app")
        return ("drop at the session's closing ROLLBACK after a 200 was made: "
                + ("**the error escaped the app** (a WSGI server answers a bare 500)"
                   if escaped else "the 200 stands" if escaped is False else "?"))
    if "registration" in name:
        return (f"registration dropped at COMMIT: {_f(f, 'status')}, no account, no mail; "
                f"retried: {_f(f, 'next_request_status')}, {_f(f, 'users')} account, "
                f"{_f(f, 'verification_mails')} mail")
    point = "at COMMIT" if f.get("fired_at") == "COMMIT" else \
        "before " + " ".join(str(f.get("fired_at", "?")).split(" (")[0].split()[:3])
    return (f"last lesson dropped {point}: "
            f"{_f(f, 'status')} in {_f(f, 'failed_in_seconds')} s, no partial rows, no badge "
            f"published; retried: {_f(f, 'next_request_status')} in "
            f"{_f(f, 'next_request_seconds')} s")


def _smtp(name: str, f: dict) -> str:
    backoff = f.get("backoff_seconds", {})
    spread = "; ".join(f"after attempt {n}: {lo}–{hi} s (ceiling {cap} s)"
                       for n, (lo, hi, cap) in sorted(backoff.items(), key=lambda kv: int(kv[0])))
    return (f"{_f(f, 'mails')} mails, {_f(f, 'relay_runs_while_down')} relay runs against a "
            f"closed port; backoff {spread}; server back: {_f(f, 'delivered')} delivered, "
            f"**{_f(f, 'duplicates')} duplicates, {_f(f, 'lost')} lost**")


FAULTS = [
    ("test_worker_killed", "Worker killed mid-batch",
     "500 reminder mails queued by a real sweep; `celery -A worker worker` relays to aiosmtpd; "
     "SIGKILL to its process group while sending (once at the widest point: the server holds "
     "its 250 to the 10th message of a group); a new worker relays what is pending; the dead "
     "worker's 10-minute lease is then expired by moving `claimed_until` back, and a relay "
     "published (what beat does every minute)",
     "every learner gets the mail; rows under the dead lease are left alone until it expires; "
     "duplicates only among the dead worker's unmarked rows, at most `MARK_EVERY` per relay "
     "that was running, byte-identical with the same Message-ID", _killed),
    ("test_duplicate_delivery", "Duplicate delivery",
     "20 learners finish both tracks; every `award_for_enrollment` published twice, side by "
     "side, and the relay twice, to two workers (4 processes)",
     "one badge per (learner, badge class), one mail per badge, no task error or retry",
     _duplicate),
    ("test_two_beats", "Two beats",
     "two production `celery -A worker beat` processes with every schedule entry each second "
     "(`-S tests.faults.fastbeat:FastScheduler`) for 6+ periods, two workers; 260 learners with "
     "two stalled tracks each (520 rows: more than one sweep batch); and two sweeps published "
     "at the same instant",
     "no reminder and no mail sent twice; one mail per learner listing all its stalled tracks; "
     "sweeps at the same instant both finish, without error, and every due learner is mailed "
     "now", _beats),
    ("test_redis_restarted", "Redis restarted mid-batch",
     "a private `redis-server` (never the shared one) SIGKILLed while 300 mails are being "
     "relayed; meanwhile a learner finishes a track (its award cannot be published) and 20 more "
     "mails are committed; restarted empty after 3 s; one worker and one fast beat on it",
     "every mail delivered exactly once; the badge awarded by the reconciler; beat reconnects "
     "by itself, the worker too or, if it exits, once restarted by its supervisor", _redis),
    ("test_postgres_dropped", "PostgreSQL connection dropped",
     "`pg_terminate_backend` on every other session of the database, fired from a SQLAlchemy "
     "event at a chosen point of a request (before a given statement, at COMMIT, at the closing "
     "ROLLBACK), and every 150 ms under four learners' requests",
     "the request caught answers 503 problem+json with Retry-After and leaves no partial rows "
     "and no published task; the next request succeeds (`pool_pre_ping`); never a 500", _postgres),
    ("test_smtp_down", "SMTP down for a while",
     "150 mails relayed to a port nothing listens on; four rounds in which time is moved by "
     "setting `next_attempt_at` to now (no sleeping) and a relay published; then aiosmtpd "
     "starts on that port",
     "backoff with full jitter within [1 s, min(3600, 30·2ⁿ⁻¹) s]; nothing retried early; "
     "nothing failed for good; every mail delivered once when the server returns", _smtp),
]


def _docstring(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    except (OSError, SyntaxError):
        return ""
    return " ".join(doc.split())


def _outcome(results: list[dict]) -> str:
    failed = [r for r in results if r.get("outcome") not in ("passed", "skipped")]
    skipped = [r for r in results if r.get("outcome") == "skipped"]
    if not results:
        return "not run"
    if failed:
        return f"**{len(failed)} of {len(results)} FAILED**"
    if skipped:
        return f"{len(skipped)} of {len(results)} skipped"
    return f"passed ({len(results)})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(results: dict[str, dict]) -> str:
    by_module: dict[str, list[tuple[str, dict]]] = {}
    for nodeid, result in results.items():
        module = Path(nodeid.split("::")[0]).stem
        by_module.setdefault(module, []).append((nodeid.split("::")[-1], result))
    lines = ["| Fault | How it is injected | What must hold | Last run observed | Result |",
             "| --- | --- | --- | --- | --- |"]
    known = set()
    for module, fault, how, must, observe in FAULTS:
        known.add(module)
        tests = sorted(by_module.get(module, []))
        seen = "<br>".join(
            _cell(observe(name, result.get("figures", {}))) if result.get("figures")
            else f"{name}: {result.get('outcome', 'not run')}" for name, result in tests)
        lines.append(f"| {fault} | {_cell(how)} | {_cell(must)} | {seen or 'not run'} | "
                     f"{_outcome([r for _, r in tests])} |")
    for module in sorted(set(by_module) - known):
        # Checks added to tests/faults by others: described by their module docstring.
        tests = sorted(by_module[module])
        doc = _docstring(HERE / f"{module}.py")
        seen = "<br>".join(f"{name}: {result.get('outcome')} in {result.get('seconds')} s"
                           for name, result in tests)
        lines.append(f"| `{module}` | see `tests/faults/{module}.py` | {_cell(doc)} | {seen} | "
                     f"{_outcome([r for _, r in tests])} |")
    return "\n".join(lines)


def render_failures(results: dict[str, dict]) -> str:
    failed = {n: r for n, r in results.items() if r.get("outcome") not in ("passed", "skipped")}
    if not failed:
        return "None: every check passed in the last run."
    lines = []
    for nodeid, result in sorted(failed.items()):
        error = next((line.strip() for line in result.get("longrepr", "").splitlines()
                      if line.startswith("E ")), "")
        lines.append(f"- `{nodeid}`: {_cell(error[2:].strip()[:300])}")
    return "\n".join(lines)


def render_window(results: dict[str, dict]) -> str:
    from academy.notifications import relay

    rows = ["| kill point | received before the kill | rows under the dead lease | duplicates "
            "| bound |", "| --- | --- | --- | --- | --- |"]
    for nodeid, result in sorted(results.items()):
        if "test_worker_killed" not in nodeid or not result.get("figures"):
            continue
        f = result["figures"]
        point = ("widest: server holds its 250 to the 10th message of a group"
                 if "widest" in nodeid else "arbitrary: as soon as the server had 137")
        rows.append(f"| {point} | {f.get('received_before_kill')} | {f.get('stranded')} | "
                    f"{f.get('duplicates')} | {f.get('bound')} |")
    return (f"`MARK_EVERY` = {relay.MARK_EVERY} messages, `MARK_INTERVAL` = "
            f"{relay.MARK_INTERVAL} s, lease `LEASE` = {int(relay.LEASE.total_seconds() // 60)} "
            f"minutes (academy/notifications/relay.py).\n\n" + "\n".join(rows))


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"RELIABILITY.md has no <!-- BEGIN {name} --> … <!-- END {name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)


def versions() -> str:
    import celery
    import kombu
    import redis

    found = [f"Python {platform.python_version()}", f"Celery {celery.__version__}",
             f"kombu {kombu.__version__}", f"redis-py {redis.__version__}"]
    try:
        import psycopg

        url = os.environ["ACADEMY_TEST_DATABASE_URL"].replace("postgresql+psycopg://",
                                                               "postgresql://")
        with psycopg.connect(url) as conn:
            found.insert(1, "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
                         .split()[0])
        server = redis.Redis.from_url(os.environ["ACADEMY_TEST_REDIS_URL"])
        found.insert(2, "Redis " + server.info("server")["redis_version"])
        server.close()
    except Exception:  # noqa: BLE001 - versions are a courtesy, the results are the point
        pass
    return ", ".join(found)


def main(argv: list[str]) -> int:
    missing = [name for name in ("ACADEMY_TEST_DATABASE_URL", "ACADEMY_TEST_REDIS_URL")
               if not os.environ.get(name)]
    if missing:
        print(f"set {' and '.join(missing)}: the faults need PostgreSQL and Redis "
              "(see README, 'make test' against real servers)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        # ACADEMY_FAULTS_REPORT, when set, keeps the raw figures there after the run.
        results_file = Path(os.environ.get(REPORT_ENV) or Path(tmp) / "faults.json")
        results_file.unlink(missing_ok=True)
        env = {**os.environ, REPORT_ENV: str(results_file)}
        started = time.monotonic()
        status = subprocess.call([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                  "-m", "faults", str(HERE), *argv], cwd=ROOT, env=env)
        seconds = time.monotonic() - started
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
    write(results, seconds)
    return status


def write(results: dict, seconds: float) -> None:
    if not results:
        print("no results were recorded; RELIABILITY.md left as it was", file=sys.stderr)
        return
    passed = sum(r.get("outcome") == "passed" for r in results.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (f"Last run: {stamp}, {passed} of {len(results)} checks passed in {seconds:.0f} s "
               f"on {os.cpu_count()} CPUs ({versions()}).")
    text = TARGET.read_text()
    text = replace_block(text, "faults-table", summary + "\n\n" + render_table(results))
    text = replace_block(text, "duplicate-window", render_window(results))
    text = replace_block(text, "failures", render_failures(results))
    TARGET.write_text(text)
    print(f"{TARGET.relative_to(ROOT)}: {summary}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
