"""The account's JSON answers, shared by the API views and the data export."""
from __future__ import annotations

from ..signals import answers, describe_learner
from ..timeutil import isoformat


def user_dict(user) -> dict:
    """The learner as ``/me`` shows them; domains above add their fields (learning: ``streak``)."""
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "timezone": user.timezone,
        "reminder_hour": user.reminder_hour,
        "email_preferences": {"reminders": user.reminders_enabled,
                              "badges": user.badge_emails_enabled},
        "email_verified": user.email_verified,
        "is_admin": user.is_admin,
        "created_at": isoformat(user.created_at),
        **answers(describe_learner.send(user)),
    }


def token_dict(token, secret: str | None = None) -> dict:
    data = {"id": token.id, "name": token.name, "prefix": token.prefix,
            "scopes": token.scope_list, "created_at": isoformat(token.created_at),
            "expires_at": isoformat(token.expires_at),
            "last_used_at": isoformat(token.last_used_at)}
    if secret:
        data["token"] = secret
    return data
