"""Reading and checking ``content/tracks``: every problem is reported with its file, field and line.

Nothing here touches the database; ``service.sync`` applies a tree only once it is clean.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from ..errors import flatten_messages
from ..fields import StrictBoolean
from .markdown import render

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_slug = validate.And(
    validate.Length(min=1, max=100),
    validate.Regexp(SLUG_RE, error="must be lowercase words joined by hyphens, like 'ml-basics'"),
)


class BadgeFileSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1))
    criteria = fields.String(required=True, validate=validate.Length(min=1))


class TrackFileSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(required=True, validate=validate.Length(min=1))
    career = fields.String(required=True, validate=_slug)
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    prerequisites = fields.List(fields.String(validate=_slug), required=True)
    badge = fields.Nested(BadgeFileSchema, required=True)
    lessons = fields.List(fields.String(validate=_slug), required=True,
                          validate=validate.Length(min=1, error="lists no lessons"))


class ResourceSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    url = fields.URL(required=True, schemes={"https"}, require_tld=True,
                     error_messages={"invalid": "must be an https:// URL"})


# Choices are named by position: the first is ``a``.
CHOICE_IDS = "abcdefgh"


class ChoiceSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=500))
    why = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    correct = StrictBoolean(load_default=False)


class QuestionSchema(Schema):
    id = fields.String(required=True, validate=_slug)
    prompt = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    choices = fields.List(fields.Nested(ChoiceSchema), required=True,
                          validate=validate.Length(min=2, max=len(CHOICE_IDS),
                                                   error="needs 2 to {max} choices"))


class EvidenceSchema(Schema):
    prompt = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    url_pattern = fields.String(required=True, validate=validate.Length(min=1, max=500))


class LessonFrontMatterSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=600))
    resources = fields.List(fields.Nested(ResourceSchema), required=True,
                            validate=validate.Length(min=1, error="lists no resources"))
    # Hours a project takes beyond the lesson's reading (``minutes``), shown beside it.
    project_hours = fields.Float(validate=validate.Range(min=0.5, max=1000))
    check = fields.List(fields.Nested(QuestionSchema),
                        validate=validate.Length(min=1, max=20, error="needs 1 to {max} questions"))
    evidence = fields.Nested(EvidenceSchema)


def _check_problems(data: dict, display: str, lines: dict) -> list[Problem]:
    """The rules of ``check`` and ``evidence`` a schema cannot say, each naming the question."""
    problems = []
    if data.get("check") and data.get("evidence"):
        problems.append(Problem(display, "evidence", "a lesson has a check or evidence, not both",
                                lines.get("evidence")))
    seen: set[str] = set()
    for index, question in enumerate(data.get("check") or ()):
        name = f"check.{question['id']}"
        if question["id"] in seen:
            problems.append(Problem(display, f"{name}.id", f"question id {question['id']!r} is "
                                    "given twice in this lesson", lines.get(f"check.{index}.id")))
        seen.add(question["id"])
        if not any(choice["correct"] for choice in question["choices"]):
            problems.append(Problem(display, f"{name}.choices",
                                    "no choice is marked correct: true",
                                    lines.get(f"check.{index}.choices")))
    evidence = data.get("evidence")
    if evidence:
        try:
            re.compile(evidence["url_pattern"])
        except re.error as exc:
            problems.append(Problem(display, "evidence.url_pattern",
                                    f"is not a valid regular expression: {exc}",
                                    lines.get("evidence.url_pattern")))
    return problems


_INDEXED = re.compile(r"^check\.(\d+)(?:\.choices\.(\d+))?")


def _name_questions(problems: list[Problem], data: dict) -> list[Problem]:
    """``check.0.choices.1.why`` becomes ``check.precision-vs-recall.choices.b.why``: an author
    finds a question by its id and a choice by its letter, not by counting."""
    questions = data.get("check") if isinstance(data.get("check"), list) else []

    def name(match: re.Match) -> str:
        index = int(match.group(1))
        question = questions[index] if index < len(questions) else None
        qid = question.get("id") if isinstance(question, dict) else None
        named = f"check.{qid}" if isinstance(qid, str) and qid else f"check.#{index + 1}"
        if match.group(2) is not None:
            choice = int(match.group(2))
            named += f".choices.{CHOICE_IDS[choice] if choice < len(CHOICE_IDS) else choice}"
        return named

    return [replace(p, field=_INDEXED.sub(name, p.field)) if p.field else p for p in problems]


def _check_spec(loaded: dict) -> list[dict] | None:
    """The questions as stored: choices get their ids; ``correct`` and ``why`` stay server-side."""
    if not loaded.get("check"):
        return None
    return [{"id": q["id"], "prompt": q["prompt"].strip(),
             "choices": [{"id": CHOICE_IDS[i], "text": c["text"].strip(), "why": c["why"].strip(),
                          "correct": c["correct"]} for i, c in enumerate(q["choices"])]}
            for q in loaded["check"]]


@dataclass(frozen=True)
class Problem:
    path: str
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class LessonSpec:
    slug: str
    title: str
    minutes: int
    resources: list[dict]
    body_markdown: str
    body_html: str
    content_hash: str
    check: list[dict] | None = None
    evidence: dict | None = None
    project_hours: float | None = None


@dataclass
class TrackSpec:
    slug: str
    title: str
    summary: str
    career: str
    position: int
    prerequisites: list[str]
    badge: dict
    lessons: list[LessonSpec]
    content_hash: str
    path: str


@dataclass
class ContentTree:
    tracks: list[TrackSpec] = field(default_factory=list)
    # ``career_content.CareerSpec``s once the careers were read (``career_content.load_content``);
    # None when they were not, and then ``service.sync`` leaves the careers as they are.
    careers: list | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _lines(node, prefix: str = "", out: dict | None = None, dupes: list | None = None):
    """Map each dotted field path of a YAML node to its 1-based line; note duplicate keys."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = f"{prefix}.{key}" if prefix else key
            if key in seen and dupes is not None:
                dupes.append((path, key_node.start_mark.line + 1))
            seen.add(key)
            out[path] = key_node.start_mark.line + 1
            _lines(value_node, path, out, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}.{index}"
            out[path] = item.start_mark.line + 1
            _lines(item, path, out, dupes)
    return out


def _parse_yaml(text: str, display: str, problems: list[Problem], line_offset: int = 0):
    """Parse one YAML document; returns (data, {path: line}) or (None, {}) after a problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problems.append(Problem(display, None, f"invalid YAML: {exc.problem or exc}", line))
        return None, {}
    except yaml.YAMLError as exc:
        problems.append(Problem(display, None, f"invalid YAML: {exc}"))
        return None, {}
    dupes: list = []
    lines = {k: v + line_offset for k, v in _lines(node, dupes=dupes).items()} if node else {}
    for path, line in dupes:
        problems.append(Problem(display, path, "is given twice", line + line_offset))
    if not isinstance(data, dict):
        problems.append(Problem(display, None, "must be a YAML mapping of fields", 1 + line_offset))
        return None, {}
    return data, lines


def _validate(schema: Schema, data: dict, display: str, lines: dict, problems: list[Problem]):
    try:
        return schema.load(data)
    except ValidationError as exc:
        for path, reasons in flatten_messages(exc.messages).items():
            line = lines.get(path) or lines.get(path.rsplit(".", 1)[0])
            for reason in reasons:
                problems.append(Problem(display, path, reason.rstrip(".").lower()
                                        if reason.startswith("Unknown") else reason.rstrip("."),
                                        line))
        return None


def _load_yaml_file(path: Path, display: str, schema: Schema, problems: list[Problem],
                    missing: str = "is missing"):
    """Read, parse and load one YAML file with ``schema``: (fields, {path: line}), or (None, {})
    once a problem was added."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(display, None, missing))
        return None, {}
    except UnicodeDecodeError:
        problems.append(Problem(display, None, "is not UTF-8 text"))
        return None, {}
    data, lines = _parse_yaml(text, display, problems)
    if data is None:
        return None, {}
    return _validate(schema, data, display, lines, problems), lines


def _split_front_matter(text: str):
    """Return (front matter text, body, body's first line) or None when there is none."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---\n", 3)
    if end == -1:
        if text.endswith("\n---"):
            end = len(text) - 4
        else:
            return None
    front = text[4:end + 1]
    body = text[end + 5:]
    return front, body, front.count("\n") + 3


def _load_lesson(path: Path, slug: str, problems: list[Problem]) -> LessonSpec | None:
    display = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(display, None, "lesson file is missing (listed in track.yaml lessons)"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem(display, None, "is not UTF-8 text"))
        return None
    parts = _split_front_matter(text.replace("\r\n", "\n"))
    if parts is None:
        problems.append(Problem(display, "front matter",
                                "missing: the file must start with '---', YAML fields, '---'", 1))
        return None
    front, body, _ = parts
    before = len(problems)
    data, lines = _parse_yaml(front, display, problems, line_offset=1)
    if data is None:
        return None
    found: list[Problem] = []
    loaded = _validate(LessonFrontMatterSchema(), data, display, lines, found)
    problems.extend(_name_questions(found, data))
    if loaded is not None:
        problems.extend(_check_problems(loaded, display, lines))
    if not body.strip():
        problems.append(Problem(display, "body", "is empty: write the lesson below the front matter"))
    if loaded is None or len(problems) > before:
        return None
    resources = [{"title": r["title"], "url": r["url"]} for r in loaded["resources"]]
    body = body.strip() + "\n"
    check = _check_spec(loaded)
    evidence = ({"prompt": loaded["evidence"]["prompt"].strip(),
                 "url_pattern": loaded["evidence"]["url_pattern"]}
                if loaded.get("evidence") else None)
    project_hours = loaded.get("project_hours")
    hashed = [loaded["title"], loaded["minutes"], resources, body]
    if check or evidence or project_hours:  # lessons without them keep the hash they had
        hashed += [check, evidence, project_hours]
    return LessonSpec(
        slug=slug,
        title=loaded["title"],
        minutes=loaded["minutes"],
        resources=resources,
        body_markdown=body,
        body_html=render(body),
        content_hash=digest(hashed),
        check=check,
        evidence=evidence,
        project_hours=project_hours,
    )


def _load_track(folder: Path, problems: list[Problem], warnings: list[Problem]) -> TrackSpec | None:
    display = _display(folder / "track.yaml")
    if not SLUG_RE.match(folder.name):
        problems.append(Problem(_display(folder), "slug",
                                f"folder name {folder.name!r} is not a valid slug "
                                "(lowercase words joined by hyphens)"))
        return None
    before = len(problems)
    loaded, lines = _load_yaml_file(folder / "track.yaml", display, TrackFileSchema(), problems,
                                    missing="track.yaml is missing")
    if loaded is None:
        return None
    seen: set[str] = set()
    for index, slug in enumerate(loaded["lessons"]):
        if slug in seen:
            problems.append(Problem(display, f"lessons.{index}",
                                    f"lesson {slug!r} is listed twice", lines.get(f"lessons.{index}")))
        seen.add(slug)
    if folder.name in loaded["prerequisites"]:
        problems.append(Problem(display, "prerequisites", "a track cannot require itself",
                                lines.get("prerequisites")))
    lessons = [_load_lesson(folder / "lessons" / f"{slug}.md", slug, problems)
               for slug in dict.fromkeys(loaded["lessons"])]
    lesson_dir = folder / "lessons"
    if lesson_dir.is_dir():
        for extra in sorted(lesson_dir.glob("*.md")):
            if extra.stem not in seen:
                warnings.append(Problem(_display(extra), None,
                                        "is not listed in track.yaml lessons, so it is not published"))
    if len(problems) > before:
        return None
    badge = {k: loaded["badge"][k] for k in ("name", "description", "criteria")}
    return TrackSpec(
        slug=folder.name,
        title=loaded["title"],
        summary=loaded["summary"].strip(),
        career=loaded["career"],
        position=loaded["position"],
        prerequisites=list(loaded["prerequisites"]),
        badge=badge,
        lessons=lessons,  # type: ignore[arg-type]
        content_hash=digest([loaded["title"], loaded["summary"].strip(), loaded["career"],
                             loaded["position"], loaded["prerequisites"], badge,
                             [lesson.slug for lesson in lessons]]),
        path=display,
    )


def _check_tree(tree: ContentTree) -> None:
    """Rules that span tracks: prerequisites exist and form no cycle; positions are unique."""
    by_slug = {track.slug: track for track in tree.tracks}
    for track in tree.tracks:
        for prereq in track.prerequisites:
            if prereq not in by_slug:
                tree.problems.append(Problem(track.path, "prerequisites",
                                             f"unknown track {prereq!r}"))
    # Depth-first search for cycles, reporting each cycle once from its first member.
    state: dict[str, int] = {}
    reported: set[frozenset] = set()

    def visit(slug: str, stack: list[str]) -> None:
        state[slug] = 1
        for prereq in by_slug[slug].prerequisites:
            if prereq not in by_slug:
                continue
            if state.get(prereq) == 1:
                cycle = stack[stack.index(prereq):] + [prereq]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    tree.problems.append(Problem(by_slug[prereq].path, "prerequisites",
                                                 "cyclic prerequisites: " + " -> ".join(cycle)))
            elif prereq not in state:
                visit(prereq, stack + [prereq])
        state[slug] = 2

    for slug in sorted(by_slug):
        if slug not in state:
            visit(slug, [slug])
    positions: dict[tuple[str, int], str] = {}
    for track in sorted(tree.tracks, key=lambda t: t.slug):
        key = (track.career, track.position)
        if key in positions:
            tree.problems.append(Problem(track.path, "position",
                                         f"position {track.position} in career {track.career!r} "
                                         f"is already taken by {positions[key]!r}"))
        positions.setdefault(key, track.slug)
    badge_slugs = {f"{t.career}-career" for t in tree.tracks}
    for track in tree.tracks:
        if track.slug in badge_slugs:
            tree.problems.append(Problem(track.path, "slug",
                                         f"{track.slug!r} is reserved for the career badge"))


def load_tree(directory: str | Path) -> ContentTree:
    """Read every track folder below ``directory``; problems and warnings are collected, not raised."""
    root = Path(directory)
    tree = ContentTree()
    if not root.is_dir():
        tree.problems.append(Problem(_display(root), None, "content directory does not exist"))
        return tree
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        spec = _load_track(folder, tree.problems, tree.warnings)
        if spec is not None:
            tree.tracks.append(spec)
    if not tree.tracks and not tree.problems:
        tree.problems.append(Problem(_display(root), None, "holds no track folders"))
    _check_tree(tree)
    return tree
