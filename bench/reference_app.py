"""Reference WSGI app for the API benchmark: the least Flask can do for each measured endpoint.

    gunicorn bench.reference_app:app      (same gunicorn settings as ``gunicorn wsgi:app``)

- ``GET /ref/empty``: returns ``{}``; the floor for ``GET /api/v1/tracks/<slug>``.
- ``GET /ref/enrollments``: one SELECT (token -> the learner's enrollments with their track) and
  a JSON list; the floor for ``GET /api/v1/enrollments``.
- ``PUT /ref/completions/<enrollment_id>/<lesson_id>``: parses the JSON body, one upsert
  (INSERT ... ON CONFLICT DO NOTHING) and one count, one commit; the floor for
  ``PUT /api/v1/enrollments/<track>/lessons/<lesson>``.
- ``GET /ref/page?bytes=N``: a Jinja template rendered to about N bytes of HTML, no database;
  the floor for the lesson page ``GET /tracks/<track>/<lesson>`` (N is that page's size).

Same database, same driver (psycopg 3 through a SQLAlchemy pool), same JSON provider.
"""
from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, render_template_string, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["ACADEMY_DATABASE_URL"], pool_pre_ping=True)

_ENROLLMENTS = text("""
    SELECT e.id, e.status, e.enrolled_at, e.completed_at, e.last_activity_at, t.slug, t.title
    FROM access_token a
    JOIN enrollment e ON e.user_id = a.user_id
    JOIN track t ON t.id = e.track_id
    WHERE a.token_hash = :hash
    ORDER BY t.career, t.position, t.slug""")
_UPSERT = text("""
    INSERT INTO lesson_completion (enrollment_id, lesson_id, completed_at, content_hash)
    VALUES (:enrollment, :lesson, :now, '') ON CONFLICT (enrollment_id, lesson_id) DO NOTHING""")
_COUNT = text("SELECT count(*) FROM lesson_completion WHERE enrollment_id = :enrollment")


def _iso(value):
    return value.isoformat() + "Z" if value else None


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main>{% for _ in range(count) %}<p>{{ text }}</p>
{% endfor %}</main></body></html>"""
_TEXT = "A paragraph of a lesson, escaped by Jinja like the real page's text. " * 2


@app.get("/ref/page")
def page():
    size = request.args.get("bytes", type=int) or 10_000
    return render_template_string(_PAGE, title="A lesson", text=_TEXT,
                                  count=max(1, size // (len(_TEXT) + 8)))


@app.get("/ref/empty")
def empty():
    return jsonify({})


@app.get("/ref/enrollments")
def enrollments():
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        abort(401)
    digest = hashlib.sha256(secret.strip().encode()).hexdigest()
    with engine.connect() as conn:
        rows = conn.execute(_ENROLLMENTS, {"hash": digest}).all()
    return jsonify({"items": [{"track": {"slug": r.slug, "title": r.title}, "status": r.status,
                               "enrolled_at": _iso(r.enrolled_at),
                               "completed_at": _iso(r.completed_at),
                               "last_activity_at": _iso(r.last_activity_at)} for r in rows],
                    "total": len(rows)})


@app.put("/ref/completions/<int:enrollment_id>/<int:lesson_id>")
def complete(enrollment_id: int, lesson_id: int):
    body = request.get_json()
    if not isinstance(body, dict) or body.get("status") != "completed":
        abort(422)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(_UPSERT, {"enrollment": enrollment_id, "lesson": lesson_id, "now": now})
        count = conn.execute(_COUNT, {"enrollment": enrollment_id}).scalar()
    return jsonify({"completed": count})
