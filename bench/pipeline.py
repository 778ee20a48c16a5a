"""The reminder pipeline end to end, as production runs it, beside a bare smtplib loop.

The sweep runs as ``flask --app wsgi academy reminders run`` (the code beat's task runs, as an
operator runs it; ``--now`` puts it at the bench learners' reminder hour) while the mail
worker started by ``stack.py`` (``celery -A worker worker -Q mail -c N``) relays: each sweep
batch's commit publishes a relay task, so rows go out while later batches are still being
selected and rendered. The clock runs from launching the sweep to the SMTP sink's last 250
reply; the reference is ``smtp_reference.py``, the same number of pre-rendered messages over
the same N connections, run in the same bench just before (when the delivery phase left
messages to copy) and just after. Beat's safety net is there too: like its ``relay-outbox``
entry, the bench publishes a relay every 60 s while mail is pending, and reports how often
(a relay published after a commit and lost on the way, as happens when another process
empties the broker's database, would otherwise stall the phase).
"""
from __future__ import annotations

import subprocess
import time

import seed
from common import NOW, VENV_BIN, count_reminders, log
from delivery import reference_messages, smtp_reference
from stack import Bench

TARGET = 0.5


def sink_state(bench: Bench) -> tuple[int, float]:
    """(messages the sink accepted so far, wall-clock time of its last 250 reply)."""
    try:
        fields = bench.count_file.read_text().split()
        return int(fields[0]), float(fields[2]) if len(fields) > 2 else 0.0
    except (OSError, ValueError, IndexError):
        return 0, 0.0


def _sweep_command(bench: Bench, now: str) -> list[str]:
    return [str(VENV_BIN / "flask"), "--app", "wsgi", "academy", "reminders", "run", "--now", now]


def cli_start_up(bench: Bench) -> float:
    """Seconds ``reminders run`` takes when no learner is due (interpreter, imports, app): the
    part of the pipeline's clock that beat's task, in a running worker, does not pay."""
    started = time.perf_counter()
    subprocess.run(_sweep_command(bench, "2026-03-02T03:00:00Z"), cwd=bench.args.app_root,
                   env=bench.app_env, capture_output=True, check=True, timeout=300)
    return time.perf_counter() - started


def measure(bench: Bench) -> dict:
    a = bench.args
    bench.grow_learners(max(a.sizes) // seed.PER_LEARNER)
    before_messages = None
    if count_reminders(bench.pg, "true"):
        # Rows the delivery phase sent: the reference's messages, before this phase clears them.
        before_messages, _ = reference_messages(bench)
    with bench.pg.transaction():
        due = seed.set_due(bench.pg, bench.learners, min(a.mails, bench.learners), NOW)
    bench.pg.execute("VACUUM ANALYZE enrollment")
    bench.pg.execute("VACUUM ANALYZE outbox_message")
    start_up = cli_start_up(bench)
    before = smtp_reference(bench, due, before_messages, "before the pipeline") if before_messages else None

    from academy.notifications.tasks import relay_outbox

    bench.in_process_app()  # its Celery app publishes beat's safety-net relay below
    safety_net = 0
    accepted_before, _ = sink_state(bench)
    log_path = bench.workdir / f"pipeline-sweep-{int(time.time())}.log"
    with open(log_path, "wb") as out:
        started_wall, started = time.time(), time.perf_counter()
        sweep = subprocess.Popen(_sweep_command(bench, NOW.isoformat() + "Z"), cwd=a.app_root,
                                 env=bench.app_env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        sweep_seconds = None
        deadline = started + max(600, due / 50)
        try:
            while True:
                if sweep_seconds is None and sweep.poll() is not None:
                    sweep_seconds = time.perf_counter() - started
                    if sweep.returncode != 0:
                        raise RuntimeError(f"reminders run failed:\n{log_path.read_text()[-3000:]}")
                accepted, last_reply = sink_state(bench)
                if accepted - accepted_before >= due and sweep_seconds is not None:
                    break
                if time.perf_counter() - started > 60 * (safety_net + 1):
                    # What beat's relay-outbox entry (every 60 s, expires 60 s) does.
                    relay_outbox.apply_async(queue="mail", expires=60)
                    safety_net += 1
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"pipeline stalled at {accepted - accepted_before}/{due}:\n"
                                       f"{bench.mail_worker.tail()}")
                if not bench.mail_worker.alive():
                    raise RuntimeError(f"mail worker died:\n{bench.mail_worker.tail()}")
                time.sleep(0.1)
        finally:
            if sweep.poll() is None:
                sweep.kill()
                sweep.wait()
    seconds = last_reply - started_wall
    # Mark sent follows the 250 by at most a group; wait for it, so nothing is left pending.
    wait_until = time.perf_counter() + 60
    while count_reminders(bench.pg, "status <> 'sent'") and time.perf_counter() < wait_until:
        time.sleep(0.2)
    not_sent = count_reminders(bench.pg, "status <> 'sent'")
    queued = count_reminders(bench.pg, "true")
    if queued != due:
        raise RuntimeError(f"the sweep queued {queued} reminders, expected {due}")

    messages, mail_size = reference_messages(bench)
    after = smtp_reference(bench, due, messages, "after the pipeline")
    runs = [r for r in (before, after) if r]
    reference = {"messages": due, "seconds": sum(r["seconds"] for r in runs) / len(runs),
                 "before": before, "after": after}
    reference["rate"] = due / reference["seconds"]
    result = {"messages": due, "connections": a.mail_concurrency, "mail_size": mail_size,
              "seconds": seconds, "rate": due / seconds, "sweep_seconds": sweep_seconds,
              "cli_start_up": start_up, "not_sent": not_sent, "safety_net_relays": safety_net,
              "reference": reference,
              "ratio": reference["seconds"] / seconds,
              "ratio_without_start_up": reference["seconds"] / max(seconds - start_up, 1e-9)}
    log(f"pipeline: {due} reminders swept and delivered in {seconds:.1f}s (sweep alone "
        f"{sweep_seconds:.1f}s, of which CLI start-up ~{start_up:.1f}s) = {result['rate']:.0f}/s; "
        f"reference {reference['seconds']:.1f}s: {result['ratio']:.2f}x (target >= {TARGET})")
    return result
