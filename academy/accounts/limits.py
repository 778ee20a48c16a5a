"""Rate limits on the doors an attacker knocks on: sign-in, sign-up, password reset, tokens."""
from __future__ import annotations

from flask import request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from ..extensions import limiter

FAILED_LOGINS = "10 per 5 minutes"


def _failed(response) -> bool:
    return response.status_code == 401


def _email_in_body() -> str:
    """The account a request is about, so guesses spread over many IPs still add up.

    Never raises: Flask-Limiter takes any error in a key function for its storage being down
    and moves the process onto in-memory counters, so whatever the body holds, a request that
    names no readable address is counted by its IP."""
    try:
        body = request.get_json(silent=True) if request.is_json else request.form
        email = body.get("email") if isinstance(body, dict) else None
        if isinstance(email, str) and email.strip():
            return "email:" + email.strip().lower()[:320]
    except Exception:  # noqa: BLE001 - see the docstring
        pass
    return "ip:" + get_remote_address()


def _user_or_ip() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "ip:" + get_remote_address()


# Only failed sign-ins count; the 11th guess is refused even with the right password.
login_per_ip = limiter.limit(FAILED_LOGINS, deduct_when=_failed, scope="login-ip")
login_per_account = limiter.limit(FAILED_LOGINS, key_func=_email_in_body, deduct_when=_failed,
                                  scope="login-account")
register = limiter.limit("10 per hour", scope="register")
reset_per_ip = limiter.limit("20 per hour", scope="reset-ip")
reset_per_account = limiter.limit("5 per hour", key_func=_email_in_body, scope="reset-account")
verification = limiter.limit("10 per hour", key_func=_user_or_ip, scope="verify")
tokens = limiter.limit("20 per hour", key_func=_user_or_ip, scope="tokens",
                       methods=["POST"])
