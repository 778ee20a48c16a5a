"""A beat scheduler for fault tests: the production schedule, every entry due each N seconds.

``celery -A worker beat -S tests.faults.fastbeat:FastScheduler`` with
``ACADEMY_FAULTS_BEAT_PERIOD=1`` runs the real ``worker`` app, the real entries of
``academy.celery.celery_config`` (same names, tasks, queues and options) and Celery's own
persistent scheduler; only the periods are shortened, so a test sees many periods in seconds.
"""
from __future__ import annotations

import os

from celery.beat import PersistentScheduler


class FastScheduler(PersistentScheduler):
    def setup_schedule(self):
        period = float(os.environ["ACADEMY_FAULTS_BEAT_PERIOD"])
        self.app.conf.beat_schedule = {
            name: {**entry, "schedule": period}
            for name, entry in self.app.conf.beat_schedule.items()
        }
        super().setup_schedule()
