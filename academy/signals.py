"""What one domain announces and others answer: the only way a lower domain reaches a higher one.

Dependencies between the domains point one way (``../shared/STYLE.md``, convention 9): catalog
and accounts at the bottom, learning above them, badges above learning; notifications is a leaf
any of them may call. When something happens below that matters above, the lower domain sends
one of these signals and never imports upward; each domain connects its receivers in its
``receivers.py``, and ``create_app`` imports them all (``register_receivers``), so the web
process, the worker and the CLI have the same ones. Receivers run inside the sender's
transaction: they flush and never commit, as services do.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

track_completed = _signals.signal("track-completed", doc="""
An enrollment reached every current lesson of its track; sent by learning in the transaction
that completes it. Sender: the enrollment id. Badges awards once that transaction commits.""")

schedule_changed = _signals.signal("schedule-changed", doc="""
A learner's time zone or reminder hour changed. Sender: the ``User``. Learning moves each
pending reminder to the new local hour.""")

describe_learner = _signals.signal("describe-learner", doc="""
The account answer (``/me``) is being built. Sender: the ``User``. Each receiver returns a dict
of fields it adds (learning: ``streak``).""")

learner_exported = _signals.signal("learner-exported", doc="""
A learner asked for everything stored about them (``/me/export``). Sender: the ``User``. Each
receiver returns a dict of the sections it owns (``enrollments``, ``badges``, ``emails`` …).""")

learner_erased = _signals.signal("learner-erased", doc="""
A learner is erasing their account; sent by accounts before it blanks its own row. Sender: the
user id. Each domain forgets or anonymises its own rows of that learner.""")

unsubscribed = _signals.signal("unsubscribed", doc="""
A learner followed a one-click unsubscribe link. Sender: the user id; ``preference``:
``reminders`` or ``badges``. Accounts turns that mail preference off.""")


def answers(results: list[tuple[object, object]]) -> dict:
    """The dicts the receivers of a ``send`` returned, merged in the order they answered."""
    merged: dict = {}
    for _, value in results:
        if value:
            merged.update(value)
    return merged
