"""Enrolling, progress, completion and content changes, through the API."""
from __future__ import annotations

import pytest

from tests.helpers.clients import signed_in
from tests.helpers.content import write_track


def test_enroll_then_again(learner):
    first = learner.enroll("basics")
    assert first.status_code == 201
    body = first.get_json()
    assert body["track"] == {"slug": "basics", "title": "Basics"}
    assert body["status"] == "active" and body["completed_at"] is None
    assert body["enrolled_at"].endswith("Z")
    assert body["progress"] == {"completed": 0, "total": 3, "percent": 0, "next_lesson": "intro",
                                "completed_lessons": [], "new_lessons": []}
    assert learner.enroll("basics").status_code == 200


def test_enroll_in_unknown_track_is_404(learner):
    response = learner.enroll("nope")
    assert response.status_code == 404
    assert learner.get("/api/v1/enrollments").get_json()["total"] == 0


def test_progress_to_completion(learner):
    learner.enroll("basics")
    body = learner.complete("basics", "numbers").get_json()
    assert body["progress"]["completed"] == 1 and body["progress"]["percent"] == 33
    assert body["progress"]["next_lesson"] == "intro"
    # Idempotent.
    assert learner.complete("basics", "numbers").get_json()["progress"]["completed"] == 1
    learner.complete("basics", "intro")
    done = learner.complete("basics", "plots").get_json()
    assert done["status"] == "completed" and done["completed_at"].endswith("Z")
    assert done["progress"]["percent"] == 100 and done["progress"]["next_lesson"] is None
    # Undoing a lesson lowers the numbers but the track stays completed.
    undone = learner.delete("/api/v1/enrollments/basics/lessons/plots").get_json()
    assert undone["status"] == "completed"
    assert undone["progress"]["percent"] == 66 and undone["progress"]["next_lesson"] == "plots"


def test_marking_without_enrollment_is_409_and_unknown_lesson_404(learner):
    response = learner.complete("basics", "intro")
    assert response.status_code == 409
    assert "not enrolled" in response.get_json()["detail"]
    learner.enroll("basics")
    assert learner.complete("basics", "nope").status_code == 404
    assert learner.complete("nope", "intro").status_code == 404


def test_lesson_status_must_be_completed(learner):
    learner.enroll("basics")
    response = learner.put("/api/v1/enrollments/basics/lessons/intro", json={"status": "done"})
    assert response.status_code == 422 and "status" in response.get_json()["errors"]
    assert learner.get("/api/v1/enrollments/basics").get_json()["progress"]["completed"] == 0


def test_drop_keeps_progress_and_reenroll_restores_it(learner):
    learner.enroll("basics")
    learner.complete("basics", "intro")
    assert learner.delete("/api/v1/enrollments/basics").status_code == 204
    dropped = learner.get("/api/v1/enrollments/basics").get_json()
    assert dropped["status"] == "dropped" and dropped["progress"]["completed"] == 1
    assert learner.complete("basics", "numbers").status_code == 409
    back = learner.enroll("basics")
    assert back.status_code == 200
    assert back.get_json()["status"] == "active" and back.get_json()["progress"]["completed"] == 1


def test_content_added_after_completion_shows_as_new_lessons(app, learner, catalog):
    learner.enroll("basics")
    for lesson in ("intro", "numbers", "plots"):
        learner.complete("basics", lesson)
    write_track(catalog, "basics", ["intro", "numbers", "plots", "bonus"])
    assert app.test_cli_runner().invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    body = learner.get("/api/v1/enrollments/basics").get_json()
    assert body["status"] == "completed"
    assert body["progress"]["new_lessons"] == ["bonus"]
    assert body["progress"]["percent"] == 75 and body["progress"]["total"] == 4


def test_retired_lesson_leaves_the_totals_but_keeps_its_row(app, learner, catalog):
    learner.enroll("basics")
    learner.complete("basics", "intro")
    learner.complete("basics", "plots")
    write_track(catalog, "basics", ["intro", "numbers"], write_lessons=False)
    assert app.test_cli_runner().invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    body = learner.get("/api/v1/enrollments/basics").get_json()
    assert body["progress"]["total"] == 2 and body["progress"]["completed"] == 1
    assert body["progress"]["percent"] == 50
    assert body["progress"]["completed_lessons"] == ["intro"]
    export = learner.get("/api/v1/me/export").get_json()
    assert {c["lesson"] for c in export["enrollments"][0]["completed_lessons"]} == {"intro", "plots"}
    # Finishing the remaining current lesson completes the track.
    assert learner.complete("basics", "numbers").get_json()["status"] == "completed"


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/enrollments/basics"),
    ("DELETE", "/api/v1/enrollments/basics"),
    ("PUT", "/api/v1/enrollments/basics/lessons/intro"),
    ("DELETE", "/api/v1/enrollments/basics/lessons/intro"),
])
def test_learner_b_cannot_see_or_touch_learner_a(app, learner, method, path):
    learner.enroll("basics")
    learner.complete("basics", "intro")
    other = signed_in(app)
    kwargs = {"json": {"status": "completed"}} if method == "PUT" else {}
    response = other.request(method, path, **kwargs)
    assert response.status_code in (404, 409)
    assert other.get("/api/v1/enrollments").get_json() == {"items": [], "total": 0}
    mine = learner.get("/api/v1/enrollments/basics").get_json()
    assert mine["status"] == "active" and mine["progress"]["completed_lessons"] == ["intro"]


def test_list_is_paged(learner):
    learner.enroll("basics")
    learner.enroll("advanced")
    page = learner.get("/api/v1/enrollments?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [e["track"]["slug"] for e in page["items"]] == ["advanced"]
