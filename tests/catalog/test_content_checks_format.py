"""``content check`` on checks and evidence: each malformed case named by file, line,
question and field."""
from __future__ import annotations

import copy

import pytest

from tests.helpers.content import CHECK, EVIDENCE, checked_track, write_lesson, write_track


def run_check(cli, root):
    return cli.invoke(args=["academy", "content", "check", str(root)])


def test_a_clean_check_and_evidence_pass(cli, tmp_path):
    checked_track(tmp_path, position=1)
    result = run_check(cli, tmp_path)
    assert result.exit_code == 0, result.output


def _broken(**change):
    check = copy.deepcopy(CHECK)
    for edit in change.values():
        edit(check)
    return check


def _no_correct(check):
    check[0]["choices"][1].pop("correct")


def _no_why(check):
    check[1]["choices"][2].pop("why")


def _duplicate(check):
    check[1]["id"] = "metric"


def _bad_id(check):
    check[0]["id"] = "Metric Question"


def _one_choice(check):
    check[0]["choices"] = check[0]["choices"][:1]


@pytest.mark.parametrize(("edit", "expected"), [
    (_no_correct, "check.metric.choices: no choice is marked correct: true"),
    (_no_why, "check.leaks.choices.c.why: Missing data for required field"),
    (_duplicate, "check.metric.id: question id 'metric' is given twice in this lesson"),
    (_bad_id, "check.Metric Question.id: must be lowercase words joined by hyphens"),
    (_one_choice, "check.metric.choices: needs 2 to 8 choices"),
])
def test_each_malformed_check_is_named(cli, tmp_path, edit, expected):
    folder = write_track(tmp_path, "quizzes", ["quiz"], write_lessons=False)
    write_lesson(folder, "quiz", check=_broken(x=edit))
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    line = next(line for line in result.stderr.splitlines() if expected in line)
    path, number = line.removeprefix("error: ").split(":")[0:2]
    assert path.endswith("quizzes/lessons/quiz.md") and number.isdigit(), line


def test_an_invalid_pattern_is_named(cli, tmp_path):
    folder = write_track(tmp_path, "builds", ["build"], write_lessons=False)
    write_lesson(folder, "build", evidence={**EVIDENCE, "url_pattern": "^https://github.com/(["})
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "builds/lessons/build.md" in result.stderr
    assert "evidence.url_pattern: is not a valid regular expression" in result.stderr


def test_a_lesson_has_a_check_or_evidence_not_both(cli, tmp_path):
    folder = write_track(tmp_path, "both", ["mixed"], write_lessons=False)
    write_lesson(folder, "mixed", check=CHECK, evidence=EVIDENCE)
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "evidence: a lesson has a check or evidence, not both" in result.stderr


def test_evidence_needs_a_prompt_and_a_pattern(cli, tmp_path):
    folder = write_track(tmp_path, "builds", ["build"], write_lessons=False)
    write_lesson(folder, "build", evidence={"prompt": "Link it."})
    result = run_check(cli, tmp_path)
    assert result.exit_code == 1
    assert "evidence.url_pattern: Missing data for required field" in result.stderr
