"""``/healthz`` (the process serves) and ``/readyz`` (its database and broker answer)."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness: database check failed", exc_info=True)
        db.session.rollback()
        return False


def _broker_ok() -> bool:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        log.warning("readiness: broker check failed", exc_info=True)
        return False


@bp.get("/readyz")
def readyz():
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    down = [name for name, ok in checks.items() if not ok]
    if down:
        from .errors import problem

        return problem(503, f"Not ready: {' and '.join(down)} not answering.",
                       checks={k: "ok" if v else "down" for k, v in checks.items()})
    return jsonify(status="ok", checks={k: "ok" for k in checks})
