"""Effort told honestly: reading minutes and project hours apart, in the answers and pages."""
from __future__ import annotations

import pytest

from tests.helpers.content import write_lesson, write_track


@pytest.fixture
def projects(app, tmp_path):
    root = tmp_path / "content"
    folder = write_track(root, "builds", ["plan", "ship"], write_lessons=False)
    write_lesson(folder, "plan", title="Plan it", minutes=30)
    write_lesson(folder, "ship", title="Ship it", minutes=45, project_hours=12)
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    return root


def test_the_catalog_tells_reading_from_project_work(app, projects):
    client = app.test_client()
    (listed,) = client.get("/api/v1/tracks").get_json()["items"]
    assert (listed["estimated_minutes"], listed["estimated_project_hours"]) == (75, 12.0)
    detail = client.get("/api/v1/tracks/builds").get_json()
    assert [(lesson["minutes"], lesson["project_hours"]) for lesson in detail["lessons"]] == [
        (30, None), (45, 12.0)]
    lesson = client.get("/api/v1/tracks/builds/lessons/ship").get_json()
    assert lesson["project_hours"] == 12.0


def test_the_pages_say_both(app, projects):
    client = app.test_client()
    track = client.get("/tracks/builds").get_data(as_text=True)
    assert "75 min of reading · about 12 hours of project work" in track
    lesson = client.get("/tracks/builds/ship").get_data(as_text=True)
    assert "45 min of reading · about 12 hours of project work" in lesson
    plan = client.get("/tracks/builds/plan").get_data(as_text=True)
    assert "project work" not in plan


@pytest.mark.parametrize("hours", [0, -3, "lots", 5000])
def test_content_check_refuses_a_bad_project_time(cli, tmp_path, hours):
    folder = write_track(tmp_path, "builds", ["ship"], write_lessons=False)
    write_lesson(folder, "ship", project_hours=hours)
    result = cli.invoke(args=["academy", "content", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "builds/lessons/ship.md" in result.stderr and "project_hours" in result.stderr
