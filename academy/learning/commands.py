"""``academy reminders run [--now ISO8601] [--dry-run]``."""
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from ..timeutil import utcnow
from . import reminders

reminders_cli = AppGroup("reminders", help="Inactivity reminders.")


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time, such as "
                                 "2026-12-01T18:00:00Z") from exc
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone, such as Z or +01:00")
    return parsed.astimezone(UTC).replace(tzinfo=None)


@reminders_cli.command("run")
@click.option("--now", "now", help="Sweep as if it were this time (ISO 8601 with a zone).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; change nothing.")
def run(now, dry_run):
    """Run one reminder sweep, the same code beat runs every 15 minutes."""
    instant = _instant(now) or utcnow()
    sent = reminders.sweep(instant, dry_run=dry_run)
    for reminder in sent:
        click.echo(("would send " if dry_run else "sent ") + str(reminder))
    click.echo(f"{len(sent)} reminder(s) {'would be ' if dry_run else ''}sent")
    if dry_run:
        lines, total = reminders.explain(instant, sent)
        for line in lines:
            click.echo(f"skipped {line}")
        if total > len(lines):
            click.echo(f"... and {total - len(lines)} more learner(s) with no reminder due")
