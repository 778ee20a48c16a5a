"""Celery tasks of the mail domain (routed to the ``mail`` queue by name)."""
from __future__ import annotations

import logging

from celery import shared_task

from ..extensions import db
from .relay import relay_pending

log = logging.getLogger(__name__)


@shared_task(name="academy.notifications.relay_outbox", ignore_result=True)
def relay_outbox() -> None:
    """Deliver due outbox mail: published after each commit that queued some, and by beat."""
    result = relay_pending()
    db.session.commit()
    if result:
        log.info("outbox relay: %d sent, %d to retry, %d failed",
                 result.sent, result.retrying, result.failed)


@shared_task(name="academy.notifications.send_reminders", ignore_result=True)
def send_reminders() -> None:
    """Beat's reminder sweep (every 15 minutes); each batch commits inside the sweep."""
    from .reminders import sweep

    sent = sweep()
    if sent:
        log.info("reminder sweep: %d reminder(s) queued", len(sent))
