"""Reading and emptying the app's broker queues (Redis or the embedded filesystem broker)."""
from __future__ import annotations

QUEUES = ("celery", "mail")  # award and other tasks; mail relays


def queued(app, queue: str = "celery") -> int:
    """Messages waiting in a broker queue."""
    from amqp.exceptions import ChannelError

    celery = app.extensions["celery"]
    with celery.connection_for_read() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # Redis has no key for an empty queue
            return 0


def purge(app, *queues: str) -> None:
    """Drop every message waiting in ``queues`` (by default all of them)."""
    celery = app.extensions["celery"]
    with celery.connection_for_write() as conn:
        for queue in queues or QUEUES:
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue never declared has nothing to purge
                pass
