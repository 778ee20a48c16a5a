"""Reading and checking ``content/tracks``: every problem is reported with its file, field and line.

Nothing here touches the database; ``service.sync`` applies a tree only once it is clean.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from ..errors import flatten_messages
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


class LessonFrontMatterSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=600))
    resources = fields.List(fields.Nested(ResourceSchema), required=True,
                            validate=validate.Length(min=1, error="lists no resources"))


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
    loaded = _validate(LessonFrontMatterSchema(), data, display, lines, problems)
    if not body.strip():
        problems.append(Problem(display, "body", "is empty: write the lesson below the front matter"))
    if loaded is None or len(problems) > before:
        return None
    resources = [{"title": r["title"], "url": r["url"]} for r in loaded["resources"]]
    body = body.strip() + "\n"
    return LessonSpec(
        slug=slug,
        title=loaded["title"],
        minutes=loaded["minutes"],
        resources=resources,
        body_markdown=body,
        body_html=render(body),
        content_hash=digest([loaded["title"], loaded["minutes"], resources, body]),
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
