"""``academy content sync``: applies a clean tree once, retires instead of deleting."""
from __future__ import annotations

from sqlalchemy import select

from academy.catalog.models import Lesson, Track
from academy.extensions import db
from tests.helpers.content import two_tracks, write_lesson, write_track


def sync(cli, root):
    return cli.invoke(args=["academy", "content", "sync", str(root)])


def lessons_of(track_slug):
    return {
        lesson.slug: lesson
        for lesson in db.session.scalars(
            select(Lesson).join(Track).where(Track.slug == track_slug)
        )
    }


def test_first_sync_adds_everything_and_second_changes_nothing(cli, ctx, tmp_path):
    two_tracks(tmp_path)
    first = sync(cli, tmp_path)
    assert first.exit_code == 0, first.output
    assert "added    track  basics" in first.output
    assert "added    lesson advanced/serving" in first.output
    assert "added    badge  data-career-career" in first.output
    second = sync(cli, tmp_path)
    assert second.exit_code == 0
    assert second.output.strip() == "no changes"


def test_sync_adds_changes_and_retires_lessons(cli, ctx, tmp_path):
    two_tracks(tmp_path)
    sync(cli, tmp_path)
    before = lessons_of("basics")
    old_hash = before["numbers"].content_hash

    # Author edits one lesson, drops another and adds a new one.
    folder = tmp_path / "basics"
    write_track(tmp_path, "basics", ["intro", "numbers", "stats"], write_lessons=False)
    write_lesson(folder, "numbers", title="Numbers, rewritten", minutes=25)
    write_lesson(folder, "stats", title="Statistics", minutes=30)
    (folder / "lessons" / "plots.md").unlink()

    result = sync(cli, tmp_path)
    assert result.exit_code == 0, result.output
    assert "changed  lesson basics/numbers" in result.output
    assert "added    lesson basics/stats" in result.output
    assert "retired  lesson basics/plots" in result.output
    assert "1 added, 2 changed, 1 retired, 0 restored" in result.output

    db.session.expire_all()
    after = lessons_of("basics")
    assert after["numbers"].content_hash != old_hash
    assert after["numbers"].title == "Numbers, rewritten"
    # Retired, not deleted: the row and its id survive for learners' progress.
    assert after["plots"].id == before["plots"].id
    assert after["plots"].retired_at is not None and after["plots"].position is None
    assert [s for s, lesson in sorted(after.items(), key=lambda kv: kv[1].position or 99)
            if lesson.position] == ["intro", "numbers", "stats"]


def test_a_retired_lesson_listed_again_is_restored(cli, ctx, tmp_path):
    two_tracks(tmp_path)
    sync(cli, tmp_path)
    write_track(tmp_path, "basics", ["intro", "numbers"], write_lessons=False)
    sync(cli, tmp_path)
    write_track(tmp_path, "basics", ["intro", "numbers", "plots"], write_lessons=False)
    result = sync(cli, tmp_path)
    assert "restored lesson basics/plots" in result.output
    db.session.expire_all()
    assert lessons_of("basics")["plots"].retired_at is None


def test_a_removed_track_folder_retires_the_track(cli, client, database, tmp_path):
    two_tracks(tmp_path)
    sync(cli, tmp_path)
    for path in sorted((tmp_path / "advanced").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (tmp_path / "advanced").rmdir()
    result = sync(cli, tmp_path)
    assert "retired  track  advanced" in result.output
    assert client.get("/api/v1/tracks/advanced").status_code == 404
    with database() as session:
        assert session.scalar(select(Track).where(Track.slug == "advanced")) is not None


def test_the_real_career_syncs(cli, ctx):
    result = cli.invoke(args=["academy", "content", "sync"])
    assert result.exit_code == 0, result.output
    tracks = db.session.scalars(select(Track).order_by(Track.position)).all()
    assert [t.career for t in tracks] == ["machine-learning-engineer"] * 6
    assert [t.slug for t in tracks] == [
        "ml-fundamentals", "ml-production-skills", "ml-end-to-end-projects",
        "ml-system-design", "ml-open-source", "ml-interview-prep",
    ]
    for earlier, later in zip(tracks, tracks[1:]):
        assert later.prerequisites == [earlier.slug]
    counts = {t.slug: len(lessons_of(t.slug)) for t in tracks}
    # Each step is a track of a handful of lessons, not a textbook: fundamentals, with deep
    # learning, is the longest at nine.
    assert all(4 <= n <= 10 for n in counts.values()), counts
