"""``academy users promote EMAIL``."""
import click
from flask.cli import AppGroup

from ..errors import NotFound
from ..extensions import db
from . import service

users_cli = AppGroup("users", help="Learner accounts.")


@users_cli.command("promote")
@click.argument("email")
def promote(email):
    """Make the account with EMAIL an administrator."""
    try:
        user = service.promote(email)
    except NotFound as exc:
        raise click.ClickException(exc.detail) from exc
    db.session.commit()
    click.echo(f"{user.email} is now an administrator")
