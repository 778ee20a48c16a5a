"""Account mail: each function returns the context of the template named like it.

Queue one with ``queue_mail("verify_email", user.email, verify_email(user, token),
key=f"verify:{user.id}:{n}", user_id=user.id)``.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app

VERIFY_EMAIL_HOURS = 48
PASSWORD_RESET_MINUTES = 60


def _link(path: str, **query: str) -> str:
    return f"{current_app.config['BASE_URL']}{path}?{urlencode(query)}"


def verify_email(user, token: str) -> dict:
    """Confirm the address: a link to ``/verify-email?token=…``, valid 48 hours.

    No display name: anyone can register someone else's address, and the name they typed
    (lines, a link) must not reach that person's inbox under our name."""
    return {
        "verify_url": _link("/verify-email", token=token),
        "expires_hours": VERIFY_EMAIL_HOURS,
    }


def password_reset(user, token: str) -> dict:
    """Choose a new password: a link to ``/reset-password?token=…``, valid one hour. The name
    only once the address is confirmed: until then it is whatever the registrant typed."""
    return {
        "display_name": user.display_name if getattr(user, "email_verified", False) else "",
        "reset_url": _link("/reset-password", token=token),
        "expires_minutes": PASSWORD_RESET_MINUTES,
    }


def confirm_email_change(token: str) -> dict:
    """Use the new address: a link to ``/confirm-email-change?token=…``, valid 48 hours."""
    return {
        "confirm_url": _link("/confirm-email-change", token=token),
        "expires_hours": VERIFY_EMAIL_HOURS,
    }


def email_change_requested(user, new_email: str) -> dict:
    """Tell the current address that a move was asked for, with the way out if it was not them.

    A new password ends every session and changes the fingerprint the confirmation link names,
    so it also cancels the change."""
    return {
        "display_name": user.display_name if getattr(user, "email_verified", False) else "",
        "new_email": new_email,
        "reset_url": f"{current_app.config['BASE_URL']}/forgot-password",
    }
