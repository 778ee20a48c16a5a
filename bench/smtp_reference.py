"""Reference for mail delivery: a bare smtplib loop, no database, no composing.

    python bench/smtp_reference.py PORT COUNT CONNECTIONS MESSAGES_FILE

MESSAGES_FILE is a pickle of ``[(sender, recipient, raw_bytes), ...]`` rendered beforehand by
the benchmark from real outbox rows (so the sizes match); they are sent in turn until COUNT
messages went out, split over CONNECTIONS processes with one SMTP connection each. Prints
``{"messages": n, "seconds": s}`` as JSON.
"""
from __future__ import annotations

import json
import multiprocessing
import pickle
import smtplib
import sys
import time


def _send(port: int, count: int, messages, start_event, result_queue) -> None:
    start_event.wait()
    conn = smtplib.SMTP("127.0.0.1", port, local_hostname="localhost", timeout=30)
    conn.ehlo_or_helo_if_needed()
    sent = 0
    for i in range(count):
        sender, recipient, raw = messages[i % len(messages)]
        conn.sendmail(sender, [recipient], raw)
        sent += 1
    conn.quit()
    result_queue.put(sent)


def main() -> None:
    port, count, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with open(sys.argv[4], "rb") as fh:
        messages = pickle.load(fh)
    ctx = multiprocessing.get_context("fork")
    start_event, results = ctx.Event(), ctx.Queue()
    shares = [count // connections + (1 if i < count % connections else 0) for i in range(connections)]
    workers = [ctx.Process(target=_send, args=(port, share, messages, start_event, results))
               for share in shares]
    for worker in workers:
        worker.start()
    time.sleep(0.2)  # every process is forked and waiting: the clock measures sending only
    started = time.perf_counter()
    start_event.set()
    sent = sum(results.get() for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    print(json.dumps({"messages": sent, "seconds": elapsed}))


if __name__ == "__main__":
    main()
