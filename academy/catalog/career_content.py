"""Reading and checking ``content/careers``, the sibling of the tracks directory.

A career file, ``<career-slug>.yaml``, holds the facts of a career's page; tracks join it through
their ``career``. Problems are reported like the tracks' (``content.Problem``), with file, field
and line; nothing here touches the database.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate

from .content import SLUG_RE, ContentTree, Problem, _display, _load_yaml_file, digest, load_tree

_text = validate.Length(min=1)
_title = validate.Length(min=1, max=200)
_DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")


class FactsDate(fields.String):
    """A date as ``YYYY-MM`` or ``YYYY-MM-DD``; YAML reads an unquoted full date as a date."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, str) and _DATE_RE.match(value):
            return value
        raise ValidationError("must be a date as YYYY-MM or YYYY-MM-DD")


class SalaryStepSchema(Schema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=100))
    annual_usd = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class TypicalDayItemSchema(Schema):
    title = fields.String(required=True, validate=_title)
    text = fields.String(required=True, validate=_text)


class FaqItemSchema(Schema):
    question = fields.String(required=True, validate=validate.Length(min=1, max=300))
    answer = fields.String(required=True, validate=_text)


class CareerSourceSchema(Schema):
    """Where a career's figures come from, and when they were taken."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    date = FactsDate(required=True,
                     metadata={"description": "When the figures were taken: YYYY-MM or YYYY-MM-DD."})
    url = fields.URL(schemes={"https"}, require_tld=True,
                     error_messages={"invalid": "must be an https:// URL"})


def _non_empty(what: str):
    return validate.Length(min=1, error=f"lists no {what}")


class CareerFileSchema(Schema):
    title = fields.String(required=True, validate=_title)
    summary = fields.String(required=True, validate=_text)
    median_salary_usd = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    job_growth = fields.String(required=True, validate=_text)
    experience_levels = fields.String(required=True, validate=_text)
    salary_progression = fields.List(fields.Nested(SalaryStepSchema), required=True,
                                     validate=_non_empty("levels"))
    typical_day = fields.List(fields.Nested(TypicalDayItemSchema), required=True,
                              validate=_non_empty("moments of the day"))
    faq = fields.List(fields.Nested(FaqItemSchema), required=True, validate=_non_empty("questions"))
    source = fields.Nested(CareerSourceSchema, required=True)


# Everything of a career file but its title and summary: stored together as the career's facts.
FACT_FIELDS = ("median_salary_usd", "job_growth", "experience_levels", "salary_progression",
               "typical_day", "faq", "source")


@dataclass
class CareerSpec:
    slug: str
    title: str
    summary: str
    facts: dict
    content_hash: str
    path: str


def careers_dir(tracks_dir: str | Path) -> Path:
    """Career files live beside the tracks: ``<tracks dir>/../careers``."""
    return Path(tracks_dir).parent / "careers"


def _load_career(path: Path, problems: list[Problem]) -> CareerSpec | None:
    display = _display(path)
    if not SLUG_RE.match(path.stem):
        problems.append(Problem(display, "slug", f"file name {path.stem!r} is not a valid slug "
                                                 "(lowercase words joined by hyphens)"))
        return None
    before = len(problems)
    loaded, _ = _load_yaml_file(path, display, CareerFileSchema(), problems)
    if loaded is None or len(problems) > before:
        return None
    summary = loaded["summary"].strip()
    facts = {name: loaded[name] for name in FACT_FIELDS}
    return CareerSpec(slug=path.stem, title=loaded["title"], summary=summary, facts=facts,
                      content_hash=digest([loaded["title"], summary, facts]), path=display)


def load_careers(tree: ContentTree, tracks_dir: str | Path) -> ContentTree:
    """Read the career files beside ``tracks_dir`` into ``tree``, then check the tracks' careers.

    A tree without a careers directory does not manage careers: ``tree.careers`` stays None, the
    tracks' careers are not checked and a sync leaves the stored careers as they are. With one,
    a track whose career has no file is a problem, and a sync retires careers whose file went."""
    root = careers_dir(tracks_dir)
    if not root.is_dir():
        return tree
    tree.careers = []
    named = {track.career for track in tree.tracks}
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in files:
        if path.suffix != ".yaml":
            tree.warnings.append(Problem(_display(path), None, "is not a .yaml file, so it is not read"))
            continue
        spec = _load_career(path, tree.problems)
        if spec is not None:
            tree.careers.append(spec)
    present = {path.stem for path in files if path.suffix == ".yaml"}
    for track in tree.tracks:
        if track.career not in present:
            tree.problems.append(Problem(track.path, "career",
                                         f"unknown career {track.career!r}: there is no "
                                         f"{_display(root / (track.career + '.yaml'))}"))
    for spec in tree.careers:
        if spec.slug not in named:
            tree.warnings.append(Problem(spec.path, None, "no track names this career"))
    return tree


def load_content(tracks_dir: str | Path) -> ContentTree:
    """The tracks below ``tracks_dir`` and the careers beside it, with every problem of both."""
    return load_careers(load_tree(tracks_dir), tracks_dir)
