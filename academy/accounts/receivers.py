"""What accounts does when other domains announce something (``academy.signals``)."""
from __future__ import annotations

from ..extensions import db
from ..signals import unsubscribed
from ..timeutil import utcnow
from .models import User

# The mail preference a one-click unsubscribe names, and the column that holds it.
_PREFERENCE_COLUMNS = {"reminders": "reminders_enabled", "badges": "badge_emails_enabled"}


@unsubscribed.connect
def _turn_off_preference(user_id: int, preference: str, **_) -> None:
    user = db.session.get(User, user_id)
    # A valid link for an account that is gone: nothing will be sent to it, which is the goal.
    column = _PREFERENCE_COLUMNS[preference]
    if user is not None and getattr(user, column):
        setattr(user, column, False)
        user.updated_at = utcnow()
