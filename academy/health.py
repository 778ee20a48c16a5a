"""``/healthz`` (the process serves) and ``/readyz`` (its database and broker answer).

A readiness probe gets its answer within a second whatever a dependency does (Kubernetes gives
up after 1 s by default): both checks run at once, each on a thread of its own, and a check
still running at ``READY_TIMEOUT`` counts as down. A dependency that hangs (a server that
accepts and never answers, a dropped route) holds only that thread, never the worker, and
only one per dependency: until it returns, the next probes report the dependency down at once.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

# Seconds for all the checks together, well inside a 1 s probe timeout.
READY_TIMEOUT = 0.8
# The broker's TCP connect and each of its replies; a refused connection is not retried.
BROKER_TIMEOUT = 0.5

_running: dict[tuple[int, str], threading.Thread] = {}
_running_lock = threading.Lock()


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _database_ok(app: Flask) -> bool:
    with app.app_context():
        try:
            db.session.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness: database check failed", exc_info=True)
            return False


def _broker_ok(app: Flask) -> bool:
    celery = app.extensions["celery"]
    try:
        with celery.connection_for_write(
                connect_timeout=BROKER_TIMEOUT,
                transport_options={"socket_timeout": BROKER_TIMEOUT,
                                   "socket_connect_timeout": BROKER_TIMEOUT}) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
        return True
    except Exception:  # noqa: BLE001
        log.warning("readiness: broker check failed", exc_info=True)
        return False


CHECKS = {"database": _database_ok, "broker": _broker_ok}


def run_checks(app: Flask, timeout: float = READY_TIMEOUT) -> dict[str, bool]:
    """``{name: answered}`` for every check, within ``timeout`` seconds."""
    results: dict[str, bool] = {}
    started = []
    with _running_lock:
        for name, check in CHECKS.items():
            key = (id(app), name)
            previous = _running.get(key)
            if previous is not None and previous.is_alive():
                continue  # the last check of it has not come back yet: still down

            def run(name=name, check=check, key=key):
                try:
                    results[name] = check(app)
                finally:
                    with _running_lock:
                        if _running.get(key) is threading.current_thread():
                            del _running[key]

            thread = threading.Thread(target=run, name=f"readyz-{name}", daemon=True)
            _running[key] = thread
            started.append(thread)
            thread.start()
    deadline = time.monotonic() + timeout
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name, False) for name in CHECKS}


@bp.get("/readyz")
def readyz():
    checks = run_checks(current_app._get_current_object())
    down = [name for name, ok in checks.items() if not ok]
    if down:
        from .errors import problem

        return problem(503, f"Not ready: {' and '.join(down)} not answering.",
                       checks={k: "ok" if v else "down" for k, v in checks.items()})
    return jsonify(status="ok", checks={k: "ok" for k in checks})
