"""Award latency: from the PUT that completes a track to its badge_award row being visible."""
from __future__ import annotations

import json
import time

import psycopg
import seed
from common import connect, http_request, log, pct
from stack import Bench


def award_once(bench: Bench, index: int, poll: psycopg.Connection) -> float:
    track_id, slug = bench.catalog.tracks[0]
    last_lesson = bench.catalog.lessons[track_id][-1][1]
    user_id = seed.AWARD_USER_BASE + index
    started = time.perf_counter()
    status, content = http_request(bench.app_port, "PUT",
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


def measure(bench: Bench, label: str, samples: int, first: int, until=None, spacing: float = 0.25) -> dict:
    """Up to ``samples`` awards to award learners ``first``…, stopping early once ``until()``."""
    latencies = []
    with connect(bench.args.database_url) as poll:
        for n in range(samples):
            if until is not None and until():
                break
            latencies.append(award_once(bench, first + n, poll))
            time.sleep(spacing)
    if not latencies:
        return {"samples": 0}
    result = {"samples": len(latencies), "p50": pct(latencies, 50), "p95": pct(latencies, 95),
              "max": max(latencies)}
    log(f"award latency ({label}): p50 {result['p50'] * 1000:.0f} ms, p95 {result['p95'] * 1000:.0f} ms, "
        f"max {result['max'] * 1000:.0f} ms over {len(latencies)}")
    return result
