"""Badge work for the worker: thin tasks that call the service and commit once."""
from celery import shared_task

from ..extensions import db
from . import service


@shared_task(name="academy.badges.award_for_enrollment", ignore_result=True,
             autoretry_for=(Exception,), retry_backoff=2, retry_backoff_max=60, max_retries=8)
def award_for_enrollment(enrollment_id: int) -> None:
    service.award_for_enrollment(enrollment_id)
    db.session.commit()


@shared_task(name="academy.badges.reconcile", ignore_result=True)
def reconcile() -> None:
    service.reconcile()
    db.session.commit()
