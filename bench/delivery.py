"""Delivery: the outbox relay against a bare smtplib loop, with award latency and memory beside it."""
from __future__ import annotations

import json
import pickle
import statistics
import subprocess
import threading
import time
from pathlib import Path

import awards
from common import BENCH, VENV_BIN, connect, count_reminders, log
from procs import pool_pids, rss_kib
from stack import Bench


def fill_outbox(bench: Bench, count: int) -> int:
    """Top the pending reminders up to ``count`` by copying swept ones (new keys and
    Message-IDs) when the largest population had fewer learners than ``count``."""
    have = count_reminders(bench.pg)
    copies = 0
    while have < count:
        take = min(have, count - have)
        copies += 1
        bench.pg.execute("""
            INSERT INTO outbox_message (key, user_id, to_address, category, template, subject,
                text_body, html_body, headers, message_id, status, attempts, next_attempt_at, created_at)
            SELECT key || ':copy' || %(n)s, user_id, to_address, category, template, subject,
                   text_body, html_body, headers,
                   replace(message_id, '@', '.c' || %(n)s || '@'), status, 0, next_attempt_at, created_at
            FROM outbox_message WHERE category = 'reminder' AND status = 'pending'
              AND key NOT LIKE '%%:copy%%' ORDER BY id LIMIT %(take)s""", {"n": copies, "take": take})
        have += take
    bench.pg.execute("VACUUM ANALYZE outbox_message")
    return copies


def reference_messages(bench: Bench) -> tuple[Path, float]:
    """The reference's messages, composed as the relay composes them; and their mean size."""
    from academy.notifications.relay import claim_due  # noqa: F401 - same import path as the relay
    from academy.notifications.transport import Outgoing, compose, envelope_sender, sender_header

    mail_from = bench.env["ACADEMY_MAIL_FROM"]
    rows = bench.pg.execute(
        "SELECT id, to_address, subject, text_body, html_body, message_id, created_at, headers "
        "FROM outbox_message WHERE category = 'reminder' ORDER BY id LIMIT 200").fetchall()
    messages = [(envelope_sender(mail_from), row[1],
                 compose(Outgoing(*row[:7], row[7] or {}), sender_header(mail_from)))
                for row in rows]
    path = bench.workdir / "reference-messages.pickle"
    path.write_bytes(pickle.dumps(messages))
    return path, statistics.mean(len(m[2]) for m in messages)


def sink_count(bench: Bench) -> int:
    try:
        return int(bench.count_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def smtp_reference(bench: Bench, count: int, messages: Path, label: str) -> dict:
    before = sink_count(bench)
    concurrency = bench.args.mail_concurrency
    out = subprocess.run([str(VENV_BIN / "python"), str(BENCH / "smtp_reference.py"), str(bench.smtp_port),
                          str(count), str(concurrency), str(messages)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"smtp reference failed: {out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rate"] = result["messages"] / result["seconds"]
    time.sleep(0.5)
    log(f"smtplib reference ({label}): {result['messages']} messages in {result['seconds']:.1f}s = "
        f"{result['rate']:.0f}/s over {concurrency} connection(s) "
        f"(sink counted {sink_count(bench) - before})")
    return result


def measure(bench: Bench) -> dict:
    """The results of this phase: ``delivery``, ``awards_loaded``, ``memory`` and ``mail_size``."""
    a = bench.args
    count = a.mails
    copies = fill_outbox(bench, count)
    pending = count_reminders(bench.pg)
    messages, mail_size = reference_messages(bench)
    # The reference runs just before and just after the pipeline, on the same sink and the
    # same number of connections; the ratio takes their mean, so a neighbour's load that
    # comes or goes during the run weighs on both sides alike.
    reference = smtp_reference(bench, pending, messages, "before")
    # The pipeline: relay tasks on the mail worker claim, compose, send and mark.
    from academy.notifications.tasks import relay_outbox

    bench.in_process_app()
    rss: list[tuple[float, int, int]] = []  # (t, sent so far, summed pool VmRSS KiB)
    done = threading.Event()
    pools = pool_pids(bench.mail_worker.pid)
    sent_counter = {"sent": 0}

    def sample_memory():
        while not done.is_set():
            values = [rss_kib(pid) for pid in pools]
            values = [v for v in values if v]
            if values:
                rss.append((time.perf_counter() - started, sent_counter["sent"], sum(values)))
            done.wait(0.5)

    before = sink_count(bench)
    started = time.perf_counter()
    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    for _ in range(a.mail_concurrency):
        relay_outbox.apply_async(queue="mail")
    award_result: dict = {}
    loaded = threading.Thread(target=lambda: award_result.update(awards.measure(
        bench, "during the relay", a.award_samples, first=a.award_samples + 5, until=done.is_set,
        spacing=0.5)))
    # Give the relay a moment to get going so the awards really overlap with it.
    time.sleep(min(2.0, 0.02 * count / 10))
    loaded.start()
    poll = connect(a.database_url)
    try:
        deadline = time.perf_counter() + max(600, count / 50)
        while True:
            sent = count_reminders(poll, "status = 'sent'")
            sent_counter["sent"] = sent
            if sent >= pending:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"relay stalled at {sent}/{pending}:\n{bench.mail_worker.tail()}")
            if not bench.mail_worker.alive():
                raise RuntimeError(f"mail worker died:\n{bench.mail_worker.tail()}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        done.set()
        poll.close()
    loaded.join()
    sampler.join()
    failed = count_reminders(bench.pg, "status <> 'sent'")
    sink_during = sink_count(bench) - before
    after = smtp_reference(bench, pending, messages, "after")
    reference = {"messages": pending, "before": reference, "after": after,
                 "seconds": (reference["seconds"] + after["seconds"]) / 2}
    reference["rate"] = pending / reference["seconds"]
    pipeline = {"messages": pending, "seconds": seconds, "rate": pending / seconds,
                "not_sent": failed, "sink": sink_during, "copies": copies}
    log(f"relay pipeline: {pending} messages in {seconds:.1f}s = {pipeline['rate']:.0f}/s "
        f"({pipeline['rate'] / reference['rate']:.2f}x the reference)")
    return {"mail_size": mail_size,
            "delivery": {"reference": reference, "pipeline": pipeline,
                         "ratio": pipeline["rate"] / reference["rate"], "connections": a.mail_concurrency},
            "awards_loaded": award_result,
            "memory": memory_summary(rss, pending)}


def memory_summary(rss: list[tuple[float, int, int]], total: int) -> dict:
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
