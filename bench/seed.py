"""Bulk data for the benchmark, written with PostgreSQL COPY (psycopg 3).

Ids are given explicitly in fixed ranges so the populations never mix and the sweep population
can grow in place (100k -> 1M enrollments) without touching the others; the sequences are
moved past them afterwards so rows the application inserts get fresh ids.

- API learners (``api<i>@bench.example``, token ``bench-api-<i>``): enrolled in every track,
  nothing completed. The first half is the application's, the second the reference's.
- Award learners (``award<i>@…``, token ``bench-award-<i>``): enrolled in the award track with
  every lesson but the last completed, so one PUT completes the track.
- Sweep learners (``learner<i>@…``): four enrollments each, idle but not due (next reminder in
  two days, or paused after stage 3), 0-2 lessons completed; ``set_due`` makes a known number of
  them due now.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

API_USER_BASE = 1
AWARD_USER_BASE = 100_001
SWEEP_USER_BASE = 1_000_001
API_ENR_BASE = 1
AWARD_ENR_BASE = 1_000_001
SWEEP_ENR_BASE = 10_000_001
PER_LEARNER = 4
TRACKS_PER_API_USER = 6

USER_COLUMNS = ("id", "email", "email_verified_at", "password_hash", "display_name", "timezone",
                "reminder_hour", "reminders_enabled", "badge_emails_enabled", "is_admin",
                "session_version", "created_at", "updated_at")
ENR_COLUMNS = ("id", "user_id", "track_id", "status", "enrolled_at", "last_activity_at",
               "reminder_stage", "reminder_anchor", "next_reminder_at")
COMPLETION_COLUMNS = ("enrollment_id", "lesson_id", "completed_at", "content_hash")


@dataclass
class Catalog:
    tracks: list[tuple[int, str]]  # (id, slug) by career position
    lessons: dict[int, list[tuple[int, str, str]]]  # track id -> [(lesson id, slug, hash)]


def token_secret(kind: str, i: int) -> str:
    return f"bench-{kind}-{i:07d}-0123456789abcdef"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def catalog(conn: psycopg.Connection) -> Catalog:
    tracks = conn.execute("SELECT id, slug FROM track WHERE retired_at IS NULL "
                          "ORDER BY career, position").fetchall()
    lessons: dict[int, list] = {}
    for track_id, lesson_id, slug, content_hash in conn.execute(
            "SELECT track_id, id, slug, content_hash FROM lesson WHERE retired_at IS NULL "
            "ORDER BY track_id, position"):
        lessons.setdefault(track_id, []).append((lesson_id, slug, content_hash))
    return Catalog(list(tracks), lessons)


def _copy(conn: psycopg.Connection, table: str, columns, rows) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _user(uid: int, email: str, now: datetime):
    return (uid, email, now, "", "Bench Learner", "UTC", 18, True, True, False, 1, now, now)


def _learners_with_tokens(conn, kind: str, base: int, count: int, now: datetime) -> None:
    """``count`` learners (ids from ``base``), each with the token ``token_secret(kind, i)``."""
    _copy(conn, "user_account", USER_COLUMNS,
          (_user(base + i, f"{kind}{i}@bench.example", now) for i in range(count)))
    _copy(conn, "access_token",
          ("user_id", "name", "token_hash", "prefix", "scopes", "created_at", "expires_at"),
          ((base + i, "bench", _hash(token_secret(kind, i)), token_secret(kind, i)[:8],
            "learning", now, now + timedelta(days=365)) for i in range(count)))


def _active_enrollment(enrollment_id: int, user_id: int, track_id: int, start: datetime) -> tuple:
    """An enrollment row active since ``start``, its next reminder 30 days out (never due here)."""
    return (enrollment_id, user_id, track_id, "active", start, start, 0, start,
            start + timedelta(days=30))


def seed_api_users(conn, cat: Catalog, count: int, now: datetime) -> None:
    """``count`` API learners with tokens, each enrolled in every track."""
    _learners_with_tokens(conn, "api", API_USER_BASE, count, now)
    start = now - timedelta(days=1)
    _copy(conn, "enrollment", ENR_COLUMNS, (
        _active_enrollment(API_ENR_BASE + i * TRACKS_PER_API_USER + j, API_USER_BASE + i,
                           track_id, start)
        for i in range(count) for j, (track_id, _) in enumerate(cat.tracks)))


def seed_award_users(conn, cat: Catalog, count: int, now: datetime) -> None:
    """``count`` learners one lesson short of completing the award track (the first one)."""
    track_id = cat.tracks[0][0]
    lessons = cat.lessons[track_id]
    _learners_with_tokens(conn, "award", AWARD_USER_BASE, count, now)
    start = now - timedelta(days=1)
    _copy(conn, "enrollment", ENR_COLUMNS, (
        _active_enrollment(AWARD_ENR_BASE + i, AWARD_USER_BASE + i, track_id, start)
        for i in range(count)))
    _copy(conn, "lesson_completion", COMPLETION_COLUMNS, (
        (AWARD_ENR_BASE + i, lesson_id, start, content_hash)
        for i in range(count) for lesson_id, _, content_hash in lessons[:-1]))


def seed_sweep_learners(conn, cat: Catalog, first: int, last: int, now: datetime) -> None:
    """Sweep learners ``first`` to ``last - 1``: four idle, not-due enrollments each."""
    idle_since = now - timedelta(days=1)
    paused_since = now - timedelta(days=20)
    enrolled = now - timedelta(days=40)
    next_stage = idle_since + timedelta(days=3)
    _copy(conn, "user_account", USER_COLUMNS,
          (_user(SWEEP_USER_BASE + i, f"learner{i}@bench.example", now) for i in range(first, last)))

    def enrollments():
        for i in range(first, last):
            for j in range(PER_LEARNER):
                track_id = cat.tracks[(i + j) % len(cat.tracks)][0]
                if j == PER_LEARNER - 1:
                    # Paused after stage 3: no next reminder until the learner is back.
                    yield (SWEEP_ENR_BASE + i * PER_LEARNER + j, SWEEP_USER_BASE + i, track_id,
                           "active", enrolled, paused_since, 3, paused_since, None)
                else:
                    yield (SWEEP_ENR_BASE + i * PER_LEARNER + j, SWEEP_USER_BASE + i, track_id,
                           "active", enrolled, idle_since, 0, idle_since, next_stage)

    _copy(conn, "enrollment", ENR_COLUMNS, enrollments())

    def completions():
        for i in range(first, last):
            for j in range(PER_LEARNER):
                track_id = cat.tracks[(i + j) % len(cat.tracks)][0]
                for lesson_id, _, content_hash in cat.lessons[track_id][:(i + j) % 3]:
                    yield (SWEEP_ENR_BASE + i * PER_LEARNER + j, lesson_id, enrolled, content_hash)

    _copy(conn, "lesson_completion", COMPLETION_COLUMNS, completions())


def fix_sequences(conn) -> None:
    for table in ("user_account", "access_token", "enrollment", "lesson_completion"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                     f"(SELECT coalesce(max(id), 1) FROM {table}))")


def set_due(conn, learners: int, due: int, now: datetime) -> int:
    """Make exactly ``due`` sweep learners (spread evenly over all ``learners``) due now, each
    with one enrollment three days idle; every other sweep enrollment idle but not due.
    Empties the outbox of reminders so each sweep starts alike. Returns the due count."""
    due = min(due, learners)
    step = max(1, learners // max(due, 1))
    idle_since = now - timedelta(days=1)
    stalled_since = now - timedelta(days=3, hours=2)
    # Back to the seeded state: the first enrollment of every learner is idle, not due.
    conn.execute("""
        UPDATE enrollment SET last_activity_at = %(idle)s, reminder_anchor = %(idle)s,
               reminder_stage = 0, next_reminder_at = %(later)s, status = 'active'
        WHERE id >= %(base)s AND (id - %(base)s) %% %(per)s = 0
          AND (next_reminder_at IS NULL OR next_reminder_at <> %(later)s
               OR last_activity_at <> %(idle)s)""",
                 {"idle": idle_since, "later": idle_since + timedelta(days=3),
                  "base": SWEEP_ENR_BASE, "per": PER_LEARNER})
    cur = conn.execute("""
        UPDATE enrollment SET last_activity_at = %(stalled)s, reminder_anchor = %(stalled)s,
               reminder_stage = 0, next_reminder_at = %(due_at)s
        WHERE id >= %(base)s AND (id - %(base)s) %% %(per)s = 0
          AND ((id - %(base)s) / %(per)s) %% %(step)s = 0
          AND ((id - %(base)s) / %(per)s) < %(limit)s""",
                       {"stalled": stalled_since, "due_at": now - timedelta(hours=1),
                        "base": SWEEP_ENR_BASE, "per": PER_LEARNER, "step": step,
                        "limit": due * step})
    conn.execute("DELETE FROM outbox_message WHERE category = 'reminder'")
    return cur.rowcount
