"""``academy badges reconcile``."""
import click
from flask.cli import AppGroup

from ..extensions import db
from . import service

badges_cli = AppGroup("badges", help="Badges.")


@badges_cli.command("reconcile")
def reconcile():
    """Award every badge that is due and missing (the same work beat runs every few minutes)."""
    awarded = service.reconcile()
    db.session.commit()
    for award in awarded:
        click.echo(f"awarded {award.public_id} (badge class {award.badge_class_id}) to user {award.user_id}")
    click.echo(f"{len(awarded)} badge(s) awarded")
