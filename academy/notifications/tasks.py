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
