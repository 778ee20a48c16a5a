"""Checks for understanding and project evidence: completing such a lesson means something."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from academy.learning.models import CheckAttempt, LessonEvidence
from tests.helpers.clients import signed_in
from tests.helpers.content import checked_track, two_tracks

RIGHT = {"metric": ["b"], "leaks": ["a", "c"]}
REPO = "https://github.com/ada/fraud-model"


@pytest.fixture
def projects(app, tmp_path):
    root = two_tracks(tmp_path / "content")
    checked_track(root)
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def learner(app, projects):
    learner = signed_in(app)
    assert learner.enroll("projects").status_code == 201
    return learner


def attempt(learner, answers, lesson="quiz"):
    return learner.post(f"/api/v1/enrollments/projects/lessons/{lesson}/attempts",
                        json={"answers": answers})


def test_the_lesson_lists_questions_and_choices_never_which_is_right(app, projects):
    lesson = app.test_client().get("/api/v1/tracks/projects/lessons/quiz").get_json()
    assert lesson["completion"] == "check" and lesson["evidence"] is None
    metric, leaks = lesson["check"]
    assert metric == {"id": "metric", "prompt": metric["prompt"], "multiple": False,
                      "choices": [{"id": "a", "text": "Precision"}, {"id": "b", "text": "Recall"},
                                  {"id": "c", "text": "Accuracy"}]}
    assert leaks["multiple"] is True
    text = str(lesson)
    assert "correct" not in text and "why" not in text and "Right:" not in text
    build = app.test_client().get("/api/v1/tracks/projects/lessons/build").get_json()
    assert build["completion"] == "evidence" and build["check"] is None
    assert build["evidence"]["url_pattern"].startswith("^https://github")
    notes = app.test_client().get("/api/v1/tracks/projects/lessons/notes").get_json()
    assert notes["completion"] == "self"


def test_a_wrong_attempt_says_which_was_wrong_and_why_and_completes_nothing(learner, database):
    answer = attempt(learner, {"metric": ["a"], "leaks": ["a", "c"]})
    assert answer.status_code == 200
    graded = answer.get_json()
    assert (graded["passed"], graded["score"], graded["total"]) == (False, 1, 2)
    metric, leaks = graded["results"]
    assert metric == {"question": "metric", "correct": False, "chosen": ["a"], "explanations": {
        "a": "Wrong: precision counts false alarms.", "b": "Right: recall counts missed frauds.",
        "c": "Wrong: with 1% fraud, accuracy hides misses."}}
    assert leaks["correct"] is True
    assert graded["enrollment"]["progress"]["completed_lessons"] == []
    # "Select all that apply" needs exactly the right set: one of two right is wrong.
    partial = attempt(learner, {"metric": ["b"], "leaks": ["a"]}).get_json()
    assert partial["passed"] is False and partial["results"][1]["correct"] is False
    with database() as session:
        attempts = session.scalars(select(CheckAttempt).order_by(CheckAttempt.id)).all()
        assert [a.passed for a in attempts] == [False, False]
        assert [a.first for a in attempts] == [True, False]
        assert attempts[0].answers == {"metric": ["a"], "leaks": ["a", "c"]}
        assert len(attempts[0].content_hash) == 64


def test_a_right_attempt_completes_the_lesson_as_a_put_would(learner):
    graded = attempt(learner, RIGHT).get_json()
    assert graded["passed"] is True and graded["score"] == graded["total"] == 2
    progress = graded["enrollment"]["progress"]
    assert progress["completed_lessons"] == ["quiz"] and progress["next_lesson"] == "build"
    me = learner.get("/api/v1/me").get_json()
    assert me["streak"]["current_days"] == 1
    again = attempt(learner, RIGHT).get_json()  # retrying a passed check is allowed
    assert again["passed"] is True
    assert again["enrollment"]["progress"]["completed"] == 1


@pytest.mark.parametrize(("answers", "field"), [
    ({"metric": ["b"]}, "answers.leaks"),                       # a question left out
    ({"metric": ["b"], "leaks": []}, "answers.leaks"),          # answered with nothing
    ({"metric": ["z"], "leaks": ["a"]}, "answers.metric"),      # no such choice
    ({"metric": ["a", "b"], "leaks": ["a"]}, "answers.metric"),  # two for a one-answer question
    ({**RIGHT, "extra": ["a"]}, "answers.extra"),               # no such question
])
def test_a_malformed_attempt_is_a_422_naming_the_question_and_keeps_nothing(
        learner, database, answers, field):
    answer = attempt(learner, answers)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]
    with database() as session:
        assert session.scalar(select(func.count()).select_from(CheckAttempt)) == 0


def test_put_on_a_check_or_evidence_lesson_names_the_endpoint(learner):
    for lesson, endpoint in (("quiz", "attempts"), ("build", "evidence")):
        answer = learner.complete("projects", lesson)
        assert answer.status_code == 409
        assert f"/api/v1/enrollments/projects/lessons/{lesson}/{endpoint}" in \
            answer.get_json()["detail"]
    assert learner.complete("projects", "notes").status_code == 200


def test_attempts_and_evidence_on_the_wrong_kind_of_lesson_answer_409(learner):
    assert attempt(learner, RIGHT, lesson="notes").status_code == 409
    evidence = learner.post("/api/v1/enrollments/projects/lessons/quiz/evidence",
                            json={"url": REPO})
    assert evidence.status_code == 409


def test_evidence_must_match_the_pattern_and_completes_the_lesson(learner, database):
    url = "/api/v1/enrollments/projects/lessons/build/evidence"
    for wrong in ("https://gitlab.com/ada/fraud-model", "https://github.com/ada",
                  "javascript:alert(1)", "https://github.com/ada/fraud-model/issues/1"):
        answer = learner.post(url, json={"url": wrong})
        assert answer.status_code == 422 and "url" in answer.get_json()["errors"], wrong
    answer = learner.post(url, json={"url": REPO, "note": "Batch scoring, p95 40 ms."})
    assert answer.status_code == 200
    assert answer.get_json()["progress"]["completed_lessons"] == ["build"]
    learner.post(url, json={"url": REPO + "-v2"})  # a new link replaces the old
    with database() as session:
        rows = session.scalars(select(LessonEvidence)).all()
        assert [(r.url, r.note) for r in rows] == [(REPO + "-v2", "")]


def test_the_badge_carries_the_evidence_and_its_page_lists_it(app, learner):
    from academy.badges.service import reconcile

    assert attempt(learner, RIGHT).get_json()["passed"]
    learner.post("/api/v1/enrollments/projects/lessons/build/evidence",
                 json={"url": REPO, "note": "Scores 1M rows nightly."})
    final = learner.complete("projects", "notes").get_json()
    assert final["status"] == "completed"
    with app.app_context():
        from academy.extensions import db

        reconcile()
        db.session.commit()
    items = learner.get("/api/v1/me/badges").get_json()["items"]
    badge = next((b for b in items if b["badge"]["slug"] == "projects"), None)
    assert badge is not None, items
    path = badge["url"].split("academy.test", 1)[1]
    document = app.test_client().get(path, headers={"Accept": "application/ld+json"}).get_json()
    assert document["evidence"] == [{"type": "Evidence", "id": REPO, "name": "Build the project",
                                     "narrative": "Scores 1M rows nightly."}]
    page = app.test_client().get(path).get_data(as_text=True)
    assert f'href="{REPO}"' in page and "Scores 1M rows nightly." in page


def test_attempts_and_evidence_are_exported_and_evidence_is_erased(learner, database):
    from tests.helpers.factories import PASSWORD

    attempt(learner, {"metric": ["a"], "leaks": ["a", "c"]})
    learner.post("/api/v1/enrollments/projects/lessons/build/evidence", json={"url": REPO})
    export = learner.get("/api/v1/me/export").get_json()
    enrollment = next(e for e in export["enrollments"] if e["track"]["slug"] == "projects")
    assert enrollment["check_attempts"][0]["answers"] == {"metric": ["a"], "leaks": ["a", "c"]}
    assert enrollment["check_attempts"][0]["passed"] is False
    assert enrollment["evidence"][0]["url"] == REPO
    assert learner.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 204
    with database() as session:
        assert session.scalar(select(func.count()).select_from(LessonEvidence)) == 0
        assert session.scalar(select(func.count()).select_from(CheckAttempt)) == 1  # anonymous


def test_admin_statistics_show_each_question_and_its_first_try_rate(app, learner):
    other = signed_in(app)
    other.enroll("projects")
    attempt(learner, {"metric": ["a"], "leaks": ["a", "c"]})  # first try: metric wrong
    attempt(learner, RIGHT)
    attempt(other, RIGHT)                                       # first try: both right
    admin = signed_in(app, is_admin=True)
    stats = admin.get("/api/v1/admin/tracks/projects/stats").get_json()
    # In the lesson's order; a first try is each learner's first attempt.
    assert stats["questions"] == [
        {"lesson": "quiz", "id": "metric", "attempts": 3, "first_try_correct_rate": 0.5},
        {"lesson": "quiz", "id": "leaks", "attempts": 3, "first_try_correct_rate": 1.0},
    ]


def test_attempts_are_rate_limited_per_learner(learner):
    for _ in range(30):
        attempt(learner, {"metric": ["a"], "leaks": ["a"]})
    answer = attempt(learner, RIGHT)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
