"""Celery tasks of the learning domain: the reminder sweep."""
from __future__ import annotations

import logging

from celery import shared_task

from .reminders import sweep

log = logging.getLogger(__name__)


@shared_task(name="academy.learning.send_reminders", ignore_result=True)
def send_reminders() -> None:
    """Beat's reminder sweep (every 15 minutes); each batch commits inside the sweep."""
    sent = sweep()
    if sent:
        log.info("reminder sweep: %d reminder(s) queued", len(sent))
