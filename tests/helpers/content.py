"""Build content trees on disk for tests, in the format authors use."""
from __future__ import annotations

from pathlib import Path

import yaml


def lesson_text(title="A lesson", minutes=10, resources=None, body="## What you will learn\n\nThings.\n"):
    front = {
        "title": title,
        "minutes": minutes,
        "resources": resources if resources is not None else [
            {"title": "Python docs", "url": "https://docs.python.org/3/"},
            {"title": "NumPy docs", "url": "https://numpy.org/doc/stable/"},
        ],
    }
    return f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n{body}"


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
