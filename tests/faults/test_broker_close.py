"""kombu 5.7 made a worker exit when its Redis went away mid-task; academy.celery patches it.

The fault test (test_redis_restarted.py) hits the race about once in 30 runs; this is the same
state reached on purpose: a delivered, unacknowledged message, then the channel closed after the
connection's settings are gone, which is what the consumer's clean-up does on a broker error.
"""
from __future__ import annotations

import pytest
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport import redis as redis_transport

from academy.celery import survive_broker_restart
from tests.helpers.services import TEST_REDIS_URL, needs_redis

pytestmark = [needs_redis, pytest.mark.faults(timeout=30)]


def delivered_then_orphaned(name: str, *, with_message: bool = False):
    """A channel holding one unacknowledged message, whose connection lost its settings."""
    connection = Connection(TEST_REDIS_URL)
    channel = connection.channel()
    queue = Queue(name, Exchange(name), routing_key=name, channel=channel)
    queue.declare()
    Producer(channel).publish({"task": "x"}, exchange=queue.exchange, routing_key=name,
                              declare=[queue])
    message = queue.get(no_ack=False)
    assert message is not None and channel.qos._delivered
    channel.connection.client = None  # what kombu's Connection._do_close_transport does
    return (connection, channel, message) if with_message else (connection, channel)


def unacked(channel) -> int:
    import redis

    return redis.Redis.from_url(TEST_REDIS_URL).hlen(channel.unacked_key)


def test_unpatched_kombu_raises_where_the_worker_died(monkeypatch):
    survive_broker_restart()
    monkeypatch.setattr(redis_transport.QoS, "restore_unacked",
                        redis_transport.QoS.restore_unacked.__wrapped__)
    _, channel = delivered_then_orphaned("academy-test-unpatched")
    # Channel.close disconnects its pools, then hands the messages back through a new client.
    with pytest.raises(AttributeError, match="hostname"):
        channel.close()


def test_closing_the_channel_keeps_the_message_for_redelivery_and_raises_nothing():
    survive_broker_restart()
    _, channel = delivered_then_orphaned("academy-test-patched")
    before = unacked(channel)
    channel.close()  # what the consumer's clean-up does: no AttributeError now
    assert not channel.qos._delivered
    # Still in Redis's unacked set: kombu restores it after visibility_timeout.
    assert unacked(channel) == before >= 1


def test_a_late_ack_after_the_channel_closed_keeps_the_message_and_raises_nothing(monkeypatch):
    """A task that finishes after the broker came back acks on its old, closed channel (the
    fault test's second way to kill a worker): unpatched, the ack raises there."""
    survive_broker_restart()
    _, channel, message = delivered_then_orphaned("academy-test-late-ack", with_message=True)
    channel.close()  # the consumer's clean-up on the broker error (patched: keeps the message)
    with monkeypatch.context() as patched_out:
        patched_out.setattr(redis_transport.QoS, "ack", redis_transport.QoS.ack.__wrapped__)
        with pytest.raises(AttributeError):
            message.ack()
    before = unacked(channel)
    message.ack()
    assert unacked(channel) == before >= 1
