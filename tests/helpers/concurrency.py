"""Doing one thing from many threads at the same instant, as simultaneous requests do."""
from __future__ import annotations

import threading


def at_once(n: int, action) -> list:
    """Run ``action`` in ``n`` threads released together; collect their answers."""
    barrier = threading.Barrier(n)
    answers: list = [None] * n

    def run(i):
        barrier.wait()
        answers[i] = action()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers
