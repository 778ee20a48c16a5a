"""What learning does when other domains announce something (``academy.signals``)."""
from __future__ import annotations

from ..signals import describe_learner, learner_erased, learner_exported, schedule_changed
from . import checks, export, schedule, service


@describe_learner.connect
def _streak(user, **_) -> dict:
    return {"streak": service.streak(user)}


@schedule_changed.connect
def _move_reminders(user, **_) -> None:
    schedule.reschedule_user(user)


@learner_erased.connect
def _forget_learning_days(user_id: int, **_) -> None:
    service.erase_learner(user_id)
    checks.erase(user_id)


@learner_exported.connect
def _export_learning(user, **_) -> dict:
    return export.sections(user.id)
