"""Helpers for badge tests: finishing tracks as a learner does."""
from __future__ import annotations

import pytest

BASICS = ["intro", "numbers", "plots"]
ADVANCED = ["models", "serving"]


def finish(learner, track: str = "basics", lessons=BASICS):
    learner.enroll(track)
    for lesson in lessons:
        response = learner.complete(track, lesson)
        assert response.status_code == 200, response.get_json()
    return response.get_json()


def queued(app, queue: str = "celery") -> int:
    """Messages waiting in a broker queue (Redis list or the embedded filesystem broker)."""
    from amqp.exceptions import ChannelError

    celery = app.extensions["celery"]
    with celery.connection_for_read() as conn:
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # Redis has no key for an empty queue
            return 0


def purge(app) -> None:
    celery = app.extensions["celery"]
    with celery.connection_for_write() as conn:
        for queue in ("celery", "mail"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 - a queue never declared has nothing to purge
                pass


@pytest.fixture
def reconcile(app):
    def run():
        result = app.test_cli_runner().invoke(args=["academy", "badges", "reconcile"])
        assert result.exit_code == 0, result.output
        return result.output
    return run
