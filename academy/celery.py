"""The Celery app, bound to Flask as in Flask's own Celery example (``FlaskTask``)."""
from __future__ import annotations

from pathlib import Path

from celery import Celery, Task
from flask import Flask
from kombu import Queue

# Badges and account work on the default queue, bulk mail on its own, so a large reminder
# batch never delays a badge. A plain `celery -A worker worker` consumes both.
QUEUES = (Queue("celery"), Queue("mail"))


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
        "beat_schedule": {
            # Safety net for mail: relays what a lost after-commit publish or a crash left
            # pending, and retries that came due. Expires, so a stopped worker finds no backlog.
            "relay-outbox": {"task": "academy.notifications.relay_outbox", "schedule": 60.0,
                             "options": {"expires": 60}},
            # Inactivity reminders: every 15 minutes, so each learner's local hour is met.
            "send-reminders": {"task": "academy.learning.send_reminders", "schedule": 900.0,
                               "options": {"expires": 900}},
            # Safety net for badges: awards what a lost message or a crashed worker left due.
            "reconcile-badges": {"task": "academy.badges.reconcile", "schedule": 300.0,
                                 "options": {"expires": 300}},
        },
        # Every module with tasks, so a worker knows them all before the first message arrives.
        "imports": ("academy.badges.tasks", "academy.learning.tasks", "academy.notifications.tasks"),
        "task_queues": QUEUES,
        "task_default_queue": "celery",
        # The reminder sweep stays beside the mail it queues, away from badge awards.
        "task_routes": {"academy.notifications.*": {"queue": "mail"},
                        "academy.learning.send_reminders": {"queue": "mail"}},
    }
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        config["broker_url"] = redis_url
        # An unacked message is redelivered after this long; it must outlast the longest task.
        config["broker_transport_options"] = {"visibility_timeout": 3600}
    else:
        # Embedded broker for a machine with nothing but Python: kombu's filesystem transport.
        folder = Path(app.config["BROKER_DIR"])
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["broker_url"] = "filesystem://localhost//"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
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
