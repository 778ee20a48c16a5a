"""What every phase of the benchmark shares: paths, the sweep's clock, logging, URLs and HTTP."""
from __future__ import annotations

import http.client
import json
import sys
from datetime import datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
# The sweep's clock: 18:00 UTC, every bench learner's reminder hour.
NOW = datetime(2026, 3, 2, 18, 0)


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- database URLs: always derived with SQLAlchemy, so socket URLs (no host) work too -----------

def database_name(url: str) -> str:
    return make_url(url).database


def libpq_url(url: str, **changes) -> str:
    """``url`` (SQLAlchemy's form) as psycopg connects to it, with ``changes`` (e.g. ``database``)."""
    return make_url(url).set(drivername="postgresql", **changes).render_as_string(hide_password=False)


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(url), autocommit=True)


def reset_database(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(libpq_url(url, database="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def count_reminders(pg: psycopg.Connection, condition: str = "status = 'pending'") -> int:
    """Reminder rows in the outbox matching ``condition`` (a constant SQL fragment)."""
    return pg.execute("SELECT count(*) FROM outbox_message WHERE category = 'reminder' "
                      f"AND {condition}").fetchone()[0]


# -- HTTP ---------------------------------------------------------------------------------------

def http_request(port: int, method: str, path: str, token: str | None = None,
                 body: dict | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def port_answers(port: int, path: str) -> bool:
    try:
        return http_request(port, "GET", path, timeout=2)[0] == 200
    except OSError:
        return False
