"""What badges does when other domains announce something (``academy.signals``)."""
from __future__ import annotations

from ..signals import learner_erased, learner_exported, track_completed
from . import service


@track_completed.connect
def _award_after_commit(enrollment_id: int, **_) -> None:
    service.track_completed(enrollment_id)


@learner_erased.connect
def _withdraw_awards(user_id: int, **_) -> None:
    service.erase_recipient(user_id)


@learner_exported.connect
def _export_awards(user, **_) -> dict:
    return {"badges": service.export_of(user.id)}
