"""Does sign-in or password reset take measurably longer for a known address than an unknown one?

    .venv/bin/python bench/enumeration.py [TRIES]

Runs in-process against a throwaway SQLite database with rate limits off, interleaving the
cases so machine noise hits them alike, and prints the median and p90 of each. A gap that is
small against the spread means timing does not tell who has an account.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRIES = int(sys.argv[1]) if len(sys.argv) > 1 else 200


def main() -> None:
    tmp = tempfile.mkdtemp()
    os.environ.update(ACADEMY_DATABASE_URL=f"sqlite:///{tmp}/bench.db", ACADEMY_RATE_LIMITS="off",
                      ACADEMY_SECRET_KEY="bench-secret-key-that-is-long-enough-0123")
    from flask_migrate import upgrade

    from academy import create_app
    from academy.extensions import db
    from tests.helpers.factories import make_user

    app = create_app({"MAIL_DIR": f"{tmp}/mail", "BROKER_DIR": f"{tmp}/broker"})
    with app.app_context():
        upgrade()
        make_user(email="known@example.org")
        db.session.commit()
    client = app.test_client()
    cases = {
        "login, known address, wrong password": (
            "/api/v1/auth/login", {"email": "known@example.org", "password": "wrong password"}),
        "login, unknown address": ("/api/v1/auth/login",
                                   {"email": "nobody@example.org", "password": "wrong password"}),
        "reset, known address": ("/api/v1/auth/password-reset", {"email": "known@example.org"}),
        "reset, unknown address": ("/api/v1/auth/password-reset", {"email": "nobody@example.org"}),
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(TRIES):
        for name, (path, body) in cases.items():
            start = time.perf_counter()
            client.post(path, json=body)
            timings[name].append((time.perf_counter() - start) * 1000)
    print(f"{'case':40} {'median ms':>10} {'p90 ms':>8}   ({TRIES} tries each)")
    for name, values in timings.items():
        values.sort()
        print(f"{name:40} {statistics.median(values):10.2f} {values[int(len(values) * 0.9)]:8.2f}")
    for a, b in (("login, known address, wrong password", "login, unknown address"),
                 ("reset, known address", "reset, unknown address")):
        gap = statistics.median(timings[a]) - statistics.median(timings[b])
        spread = statistics.quantiles(timings[b], n=10)[-1] - statistics.median(timings[b])
        print(f"gap {a.split(',')[0]}: {gap:+.2f} ms (p90-median spread {spread:.2f} ms)")


if __name__ == "__main__":
    main()
