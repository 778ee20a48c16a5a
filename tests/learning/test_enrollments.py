"""Enrolling, progress, completion and content changes, through the API."""
from __future__ import annotations

import pytest

from tests.helpers.clients import signed_in
from tests.helpers.content import write_track
from tests.helpers.sql import statements


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
    # The export keeps every stored completion; completed_lessons counts as progress does.
    assert {c["lesson"] for c in export["enrollments"][0]["completions"]} == {"intro", "plots"}
    assert export["enrollments"][0]["completed_lessons"] == ["intro"]
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


# -- un-completing a lesson of a completed track --------------------------------------------

def test_a_lesson_undone_after_completion_is_to_do_but_not_new(app, learner, catalog):
    learner.enroll("basics")
    for lesson in ("intro", "numbers", "plots"):
        learner.complete("basics", lesson)
    undone = learner.delete("/api/v1/enrollments/basics/lessons/numbers").get_json()
    assert undone["status"] == "completed"
    assert undone["progress"]["next_lesson"] == "numbers"
    assert undone["progress"]["new_lessons"] == []
    # A lesson added to the content afterwards is new; the undone one still is not.
    write_track(catalog, "basics", ["intro", "numbers", "plots", "bonus"])
    assert app.test_cli_runner().invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    for body in (learner.get("/api/v1/enrollments/basics").get_json(),
                 learner.get("/api/v1/enrollments").get_json()["items"][0]):
        assert body["progress"]["new_lessons"] == ["bonus"]
        assert body["progress"]["completed_lessons"] == ["intro", "plots"]


# -- the export speaks the API's shapes -------------------------------------------------------

def test_the_exports_enrollment_agrees_with_the_enrollment_answer(learner):
    learner.enroll("basics")
    learner.complete("basics", "plots")
    learner.complete("basics", "intro")
    answer = learner.get("/api/v1/enrollments/basics").get_json()
    exported = learner.get("/api/v1/me/export").get_json()["enrollments"][0]
    for key in ("track", "status", "enrolled_at", "completed_at", "last_activity_at"):
        assert exported[key] == answer[key], key
    assert exported["track"] == {"slug": "basics", "title": "Basics"}
    assert exported["completed_lessons"] == answer["progress"]["completed_lessons"] == ["intro", "plots"]
    assert [c["lesson"] for c in exported["completions"]] == ["plots", "intro"]


# -- prerequisites: allowed, with a warning ----------------------------------------------------

def _warnings(response) -> list[dict]:
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["warnings"]


def test_enrolling_before_the_prerequisites_warns_and_names_them(learner):
    enrolled = learner.enroll("advanced")
    assert enrolled.status_code == 201 and enrolled.get_json()["status"] == "active"
    warnings = _warnings(enrolled)
    assert [w["code"] for w in warnings] == ["prerequisites_unfinished"]
    assert warnings[0]["tracks"] == [{"slug": "basics", "title": "Basics"}]
    assert "Basics" in warnings[0]["detail"]
    assert _warnings(learner.get("/api/v1/enrollments/advanced")) == warnings
    assert _warnings(learner.enroll("advanced")) == warnings  # 200, already enrolled


def test_the_warning_goes_once_the_prerequisite_is_completed_and_stays_gone(learner):
    learner.enroll("advanced")
    learner.enroll("basics")
    learner.complete("basics", "intro")
    # Enrolled and started is not finished.
    assert _warnings(learner.get("/api/v1/enrollments/advanced"))[0]["tracks"][0]["slug"] == "basics"
    learner.complete("basics", "numbers")
    learner.complete("basics", "plots")
    assert _warnings(learner.get("/api/v1/enrollments/advanced")) == []
    assert _warnings(learner.enroll("advanced")) == []
    # Completed for good: dropping it afterwards does not bring the warning back.
    assert learner.delete("/api/v1/enrollments/basics").status_code == 204
    assert _warnings(learner.get("/api/v1/enrollments/advanced")) == []


def test_a_track_without_prerequisites_has_no_warnings(learner):
    assert _warnings(learner.enroll("basics")) == []
    assert _warnings(learner.get("/api/v1/enrollments/basics")) == []


def test_another_learners_completion_does_not_count(app, learner):
    other = signed_in(app)
    other.enroll("basics")
    for lesson in ("intro", "numbers", "plots"):
        other.complete("basics", lesson)
    assert _warnings(other.enroll("advanced")) == []
    assert [t["slug"] for t in _warnings(learner.enroll("advanced"))[0]["tracks"]] == ["basics"]


def test_prerequisites_cost_one_statement_whatever_their_number(app, learner, catalog, monkeypatch):
    from academy.catalog import service as catalog_service

    monkeypatch.setattr(catalog_service, "CACHE_SECONDS", 3600)  # no version check mid-count
    for n in range(1, 5):
        write_track(catalog, f"pre-{n}", ["one"], position=2 + n)
    write_track(catalog, "one-pre", ["one"], position=7, prerequisites=["basics"])
    write_track(catalog, "many-pre", ["one"], position=8,
                prerequisites=["basics", "pre-1", "pre-2", "pre-3", "pre-4"])
    assert app.test_cli_runner().invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    counts = {}
    for slug in ("basics", "one-pre", "many-pre"):
        learner.enroll(slug)
        learner.get(f"/api/v1/enrollments/{slug}")  # warms the catalog cache
        with statements(app) as sent:
            warnings = _warnings(learner.get(f"/api/v1/enrollments/{slug}"))
        counts[slug] = len(sent)
        if slug == "many-pre":  # in the track's order
            assert [t["slug"] for t in warnings[0]["tracks"]] == [
                "basics", "pre-1", "pre-2", "pre-3", "pre-4"]
            assert "Basics, Pre 1, Pre 2, Pre 3 and Pre 4" in warnings[0]["detail"]
    assert counts["one-pre"] == counts["many-pre"] <= counts["basics"] + 1, counts
