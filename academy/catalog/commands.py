"""``academy content check|sync [DIR]``: the tracks in DIR and the careers beside it."""
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from . import service
from .career_content import load_content

content_cli = AppGroup("content", help="Check and apply course content.")


def _load(directory):
    directory = directory or current_app.config["CONTENT_DIR"]
    tree = load_content(directory)
    for warning in tree.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in tree.problems:
        click.echo(f"error: {problem}", err=True)
    return directory, tree


@content_cli.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def check(directory):
    """Report every problem in the content tree; exit 1 if there is any."""
    directory, tree = _load(directory)
    if not tree.ok:
        click.echo(f"{len(tree.problems)} problem(s) in {directory}", err=True)
        sys.exit(1)
    lessons = sum(len(t.lessons) for t in tree.tracks)
    careers = "no careers directory" if tree.careers is None else f"{len(tree.careers)} careers"
    click.echo(f"ok: {len(tree.tracks)} tracks, {lessons} lessons, {careers} in {directory}")


@content_cli.command("sync")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def sync(directory):
    """Apply the content tree in one transaction; an invalid tree changes nothing."""
    directory, tree = _load(directory)
    if not tree.ok:
        click.echo(f"{len(tree.problems)} problem(s) in {directory}; nothing was changed", err=True)
        sys.exit(1)
    changes = service.sync(tree)
    db.session.commit()
    for change in changes:
        click.echo(str(change))
    if not changes:
        click.echo("no changes")
    else:
        counts = {a: sum(1 for c in changes if c.action == a)
                  for a in ("added", "changed", "retired", "restored")}
        click.echo(", ".join(f"{n} {a}" for a, n in counts.items()))
