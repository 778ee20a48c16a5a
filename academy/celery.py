"""The Celery app, bound to Flask as in Flask's own Celery example (``FlaskTask``)."""
from __future__ import annotations

from pathlib import Path

from celery import Celery, Task
from flask import Flask


def celery_config(app: Flask) -> dict:
    """Settings for at-least-once delivery; README explains each choice."""
    config = {
        "task_ignore_result": True,
        # Ack after the task ran, and requeue when the worker process dies mid-task:
        # tasks are idempotent, so running twice is safe and running never is not.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "beat_schedule": {},
    }
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        config["broker_url"] = redis_url
        # An unacked message is redelivered after this long; it must outlast the longest task.
        config["broker_transport_options"] = {"visibility_timeout": 3600}
    else:
        # Embedded broker for a machine with nothing but Python: kombu's filesystem transport.
        folder = Path(app.config["BROKER_DIR"])
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["broker_url"] = "filesystem://"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    config.update(app.config.get("CELERY", {}))
    return config


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(app))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
