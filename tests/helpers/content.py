"""Build content trees on disk for tests, in the format authors use."""
from __future__ import annotations

from pathlib import Path

import yaml


def lesson_text(title="A lesson", minutes=10, resources=None, body="## What you will learn\n\nThings.\n",
                **extra):
    """A lesson file; ``extra`` adds front matter fields (``check``, ``evidence``)."""
    front = {
        "title": title,
        "minutes": minutes,
        "resources": resources if resources is not None else [
            {"title": "Python docs", "url": "https://docs.python.org/3/"},
            {"title": "NumPy docs", "url": "https://numpy.org/doc/stable/"},
        ],
        **extra,
    }
    return f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n{body}"


# A check of two questions: ``metric`` has one right choice (b), ``leaks`` several (a and c).
CHECK = [
    {"id": "metric", "prompt": "Missing a fraud costs far more than a false alarm. Which metric?",
     "choices": [{"text": "Precision", "why": "Wrong: precision counts false alarms."},
                 {"text": "Recall", "correct": True, "why": "Right: recall counts missed frauds."},
                 {"text": "Accuracy", "why": "Wrong: with 1% fraud, accuracy hides misses."}]},
    {"id": "leaks", "prompt": "Which of these leak the test set? (select all that apply)",
     "choices": [{"text": "Scaling with statistics of all rows", "correct": True,
                  "why": "Right: the test rows shaped the scaler."},
                 {"text": "Fitting the scaler on the training rows only",
                  "why": "Wrong: that is the fix."},
                 {"text": "Choosing features after looking at test scores", "correct": True,
                  "why": "Right: the test set steered the choice."}]},
]
EVIDENCE = {"prompt": "Link the GitHub repository of your project.",
            "url_pattern": r"^https://github\.com/[^/]+/[^/]+/?$"}


def checked_track(root: Path, slug: str = "projects", *, position: int = 3) -> Path:
    """A track whose lessons ask for more: ``quiz`` (the check above), ``build`` (evidence,
    a GitHub repository) and ``notes`` (completed by saying so)."""
    folder = write_track(root, slug, ["quiz", "build", "notes"], position=position,
                         write_lessons=False)
    write_lesson(folder, "quiz", title="Metrics quiz", check=CHECK)
    write_lesson(folder, "build", title="Build the project", evidence=EVIDENCE)
    write_lesson(folder, "notes", title="Notes")
    return folder


def write_track(root: Path, slug: str, lessons=("first", "second", "third"), *, career="data-career",
                position=1, prerequisites=(), title=None, badge=None, write_lessons=True, **extra) -> Path:
    folder = root / slug
    (folder / "lessons").mkdir(parents=True, exist_ok=True)
    data = {
        "title": title or slug.replace("-", " ").title(),
        "summary": f"Summary of {slug}.",
        "career": career,
        "position": position,
        "prerequisites": list(prerequisites),
        "badge": badge or {"name": f"{slug} badge", "description": "A badge.",
                           "criteria": "Completed every lesson."},
        "lessons": list(lessons),
    }
    data.update(extra)
    (folder / "track.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    if write_lessons:
        for index, lesson in enumerate(lessons):
            write_lesson(folder, lesson, title=f"Lesson {lesson}", minutes=10 + index)
    return folder


def write_lesson(folder: Path, slug: str, **kwargs) -> Path:
    path = folder / "lessons" / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lesson_text(**kwargs))
    return path


def two_tracks(root: Path) -> Path:
    write_track(root, "basics", ["intro", "numbers", "plots"], position=1)
    write_track(root, "advanced", ["models", "serving"], position=2, prerequisites=["basics"])
    return root
