"""The Celery app, bound to Flask as in Flask's own Celery example (``FlaskTask``)."""
from __future__ import annotations

import functools
import logging
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
        config["broker_transport_options"] = {
            # An unacked message is redelivered after this long; it must outlast the longest task.
            "visibility_timeout": 3600,
            # A Redis that vanished (restart, failover) is noticed within seconds instead of
            # hanging a socket read; kombu's own polls block for a second, well under these.
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "retry_on_timeout": True,
        }
        # Not worker_cancel_long_running_tasks_on_connection_loss (Celery 6's default): it
        # kills a relay mid-group when Redis restarts, and the rows it claimed then wait out
        # their 10-minute lease (tried, tests/faults/test_redis_restarted.py). A task that
        # runs on finishes its group; only its ack is lost, and the redelivery is a no-op.
        config["worker_cancel_long_running_tasks_on_connection_loss"] = False
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


log = logging.getLogger(__name__)


def survive_broker_restart() -> None:
    """Keep a worker alive through its Redis restarting: a small patch of kombu 5.7.

    When Redis goes away while a late-acknowledged task runs, the consumer closes its broker
    connection; closing the channel hands the unacknowledged messages back
    (``QoS.restore_unacked``), which builds a new Redis client from the connection's settings,
    and these may already be gone (``transport.client`` is None once another close ran
    first). That raises ``AttributeError: 'NoneType' object has no attribute 'hostname'``,
    which kombu does not count among connection errors: the worker logs "Unrecoverable error"
    and exits (1 of 30 runs of tests/faults/test_redis_restarted.py; celery#10205, kombu's
    Redis channel closing its pools before restore_unacked_once opens a client).

    With no settings left to reach Redis by, nothing can be handed back now, and nothing needs
    to be: each message is still in Redis's unacked set (``QoS.append`` wrote it there before
    the task ran), and kombu restores it once ``visibility_timeout`` has passed; our tasks are
    idempotent, and beat's relay and reconcile runs redo their effects within minutes anyway.
    So the patch forgets the delivered tags and returns, and the consumer reconnects as it
    does for every other connection error. The same holds for the late ack of a task that
    finishes after its channel closed (the next run of the fault test found it: 1 in 13):
    ``QoS.ack`` and ``reject`` on such a channel leave the message unacked in Redis. Remove
    the patch when kombu handles this itself."""
    from kombu.transport import redis as redis_transport

    qos = redis_transport.QoS
    if getattr(qos.restore_unacked, "academy_patched", False):
        return

    def orphaned(self) -> bool:
        connection = getattr(self.channel, "connection", None)
        return connection is None or getattr(connection, "client", None) is None

    def patch(name, on_orphan):
        original = getattr(qos, name)

        @functools.wraps(original)
        def patched(self, *args, **kwargs):
            if orphaned(self):
                return on_orphan(self, *args, **kwargs)
            return original(self, *args, **kwargs)

        patched.academy_patched = True
        setattr(qos, name, patched)

    def keep_all(self, *args, **kwargs):
        log.warning("broker connection already closed: %d unacknowledged message(s) stay "
                    "in Redis's unacked set until visibility_timeout", len(self._delivered))
        self._delivered.clear()

    def keep_one(self, delivery_tag, *args, **kwargs):
        # A late ack (or reject) of a task that finished after its channel closed: the
        # message stays unacked in Redis and is delivered again after visibility_timeout.
        log.warning("broker connection already closed: message %s stays in Redis's unacked "
                    "set until visibility_timeout", delivery_tag)
        self._delivered.pop(delivery_tag, None)

    patch("restore_unacked", keep_all)
    patch("ack", keep_one)
    patch("reject", keep_one)


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    if app.config.get("REDIS_URL"):
        survive_broker_restart()
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(celery_config(app))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
