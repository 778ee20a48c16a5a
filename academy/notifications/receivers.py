"""What mail does when other domains announce something (``academy.signals``)."""
from __future__ import annotations

from ..signals import learner_erased, learner_exported
from . import service


@learner_erased.connect
def _forget_mail(user_id: int, **_) -> None:
    service.forget_user(user_id)


@learner_exported.connect
def _export_mail(user, **_) -> dict:
    return {"emails": service.emails_of(user.id)}
