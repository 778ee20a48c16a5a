"""The reminder sweep, in-process: the same due learners among more idle rows, then many more due."""
from __future__ import annotations

import time

import seed
from common import NOW, count_reminders, log
from stack import Bench


def sweep_once(bench: Bench, due: int) -> dict:
    from academy.extensions import db
    from academy.learning import reminders
    from academy.notifications import service

    app = bench.in_process_app()
    with bench.pg.transaction():
        marked = seed.set_due(bench.pg, bench.learners, due, NOW)
    bench.pg.execute("VACUUM ANALYZE enrollment")
    bench.pg.execute("VACUUM ANALYZE outbox_message")
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
    queued = count_reminders(bench.pg)
    enrollments = bench.pg.execute("SELECT count(*) FROM enrollment WHERE id >= %s",
                                   (seed.SWEEP_ENR_BASE,)).fetchone()[0]
    if len(sent) != marked or queued != marked:
        raise RuntimeError(f"sweep sent {len(sent)} and queued {queued}, expected {marked}")
    result = {"enrollments": enrollments, "due": marked, "seconds": seconds,
              "per_due_ms": seconds / max(marked, 1) * 1000}
    log(f"sweep: {enrollments} enrollments, {marked} due: {seconds:.2f}s "
        f"({result['per_due_ms']:.2f} ms per due learner)")
    return result


def measure(bench: Bench) -> list[dict]:
    a = bench.args
    runs = []
    for size in a.sizes:
        grown = bench.grow_learners(size // seed.PER_LEARNER)
        if grown:
            log(f"grew the sweep population to {bench.learners * seed.PER_LEARNER} enrollments "
                f"in {grown:.1f}s")
        runs.append(sweep_once(bench, min(a.sweep_due, bench.learners)))
    # The same largest population with many more due: time follows the due learners.
    runs.append(sweep_once(bench, min(a.mails, bench.learners)))
    return runs
