"""``academy content check``: every problem named with its file, field and line; exit 1."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from academy.catalog.models import Track
from academy.extensions import db
from tests.helpers.content import lesson_text, two_tracks, write_track


def run_check(cli, root):
    return cli.invoke(args=["academy", "content", "check", str(root)])


def test_clean_tree_passes(cli, tmp_path):
    result = run_check(cli, two_tracks(tmp_path))
    assert result.exit_code == 0, result.output
    assert "ok: 2 tracks, 5 lessons" in result.output


def test_broken_yaml_names_file_and_line(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    (folder / "track.yaml").write_text("title: Basics\nsummary: [unclosed\ncareer: x\n")
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/track.yaml:3: invalid YAML" in result.stderr


def test_missing_lesson_file(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    (folder / "lessons" / "second.md").unlink()
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/lessons/second.md: lesson file is missing" in result.stderr


@pytest.mark.parametrize("slug", ["Bad_Slug", "double--dash", "-lead", "UPPER"])
def test_malformed_lesson_slug(cli, tmp_path, slug):
    write_track(tmp_path, "basics", ["first", slug])
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/track.yaml:" in result.stderr
    assert "lessons.1: must be lowercase words joined by hyphens" in result.stderr


def test_malformed_folder_slug(cli, tmp_path):
    write_track(tmp_path, "Basics_Track")
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "Basics_Track: slug: folder name 'Basics_Track' is not a valid slug" in result.stderr


def test_duplicate_lesson_slug(cli, tmp_path):
    write_track(tmp_path, "basics", ["first", "second", "first"])
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/track.yaml:" in result.stderr
    assert "lessons.2: lesson 'first' is listed twice" in result.stderr


def test_duplicate_yaml_key(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    text = (folder / "track.yaml").read_text()
    (folder / "track.yaml").write_text(text + "title: Again\n")
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "title: is given twice" in result.stderr


def test_unknown_prerequisite(cli, tmp_path):
    write_track(tmp_path, "basics", prerequisites=["nowhere"])
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/track.yaml: prerequisites: unknown track 'nowhere'" in result.stderr


def test_cyclic_prerequisites(cli, tmp_path):
    write_track(tmp_path, "a-track", position=1, prerequisites=["c-track"])
    write_track(tmp_path, "b-track", position=2, prerequisites=["a-track"])
    write_track(tmp_path, "c-track", position=3, prerequisites=["b-track"])
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "prerequisites: cyclic prerequisites:" in result.stderr
    assert result.stderr.count("cyclic prerequisites:") == 1


def test_missing_and_unknown_track_fields(cli, tmp_path):
    folder = write_track(tmp_path, "basics", colour="blue")
    text = (folder / "track.yaml").read_text().replace("summary: Summary of basics.\n", "")
    (folder / "track.yaml").write_text(text)
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/track.yaml: summary: Missing data for required field" in result.stderr
    assert "colour: unknown field" in result.stderr


def test_missing_front_matter_field(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    text = lesson_text().replace("minutes: 10\n", "")
    (folder / "lessons" / "first.md").write_text(text)
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/lessons/first.md: minutes: Missing data for required field" in result.stderr


def test_missing_front_matter(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    (folder / "lessons" / "first.md").write_text("# Just a body\n")
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "basics/lessons/first.md:1: front matter: missing" in result.stderr


@pytest.mark.parametrize("url", ["http://example.org/page", "javascript:alert(1)", "not a url",
                                 "ftp://files.example.org/x"])
def test_bad_resource_url_names_its_line(cli, tmp_path, url):
    folder = write_track(tmp_path, "basics")
    resources = [{"title": "Good", "url": "https://docs.python.org/3/"}, {"title": "Bad", "url": url}]
    (folder / "lessons" / "first.md").write_text(lesson_text(resources=resources))
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    # Line 1 is '---'; the bad URL is on line 8 of the file.
    assert "basics/lessons/first.md:8: resources.1.url: must be an https:// URL" in result.stderr


def test_every_problem_is_reported_not_just_the_first(cli, tmp_path):
    write_track(tmp_path, "basics", ["first", "Nope"], prerequisites=["ghost"])
    folder = write_track(tmp_path, "more", position=2)
    (folder / "lessons" / "first.md").write_text("no front matter")
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "lessons.1" in result.stderr and "more/lessons/first.md" in result.stderr


def test_unlisted_lesson_file_is_a_warning_only(cli, tmp_path):
    folder = write_track(tmp_path, "basics")
    (folder / "lessons" / "draft.md").write_text(lesson_text())
    result = run_check(cli, tmp_path)
    assert result.exit_code == 0
    assert "draft.md: is not listed in track.yaml lessons" in result.stderr


def test_invalid_tree_sync_changes_nothing(cli, ctx, tmp_path):
    two_tracks(tmp_path)
    (tmp_path / "advanced" / "lessons" / "serving.md").write_text("broken")
    result = cli.invoke(args=["academy", "content", "sync", str(tmp_path)])
    assert result.exit_code == 1
    assert "nothing was changed" in result.stderr
    assert db.session.scalar(select(func.count()).select_from(Track)) == 0


def test_real_content_is_clean(cli):
    result = cli.invoke(args=["academy", "content", "check"])
    assert result.exit_code == 0, result.output
    assert "ok: 6 tracks" in result.output
