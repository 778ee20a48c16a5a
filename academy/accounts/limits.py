"""Rate limits on the doors an attacker knocks on: sign-in, sign-up, password reset, tokens."""
from __future__ import annotations

from flask import request
from flask_limiter.util import get_remote_address
from flask_login import current_user

from .. import apidocs
from ..extensions import limiter
from ..fields import normalise_email

FAILED_LOGINS = "10 per 5 minutes"


def _reached_the_account_check(response) -> bool:
    # A form the schema refused never reached the account check: fixing it costs no attempt.
    return response.status_code not in (400, 415, 422)


def forgive_attempt() -> None:
    """Give back the attempt a successful password check counted, so only failures add up.

    Attempts count before the password is hashed, not after: counted after, 30 guesses sent at
    once all passed a limit of 10 before the first was counted."""
    for current in limiter.current_limits or ():
        if any(arg in _PASSWORD_SCOPES for arg in current.request_args):
            limiter.limiter.hit(current.limit, *current.request_args, cost=-1)


def _email_in_body() -> str:
    """The account a request is about, so guesses spread over many IPs still add up.

    Never raises: Flask-Limiter takes any error in a key function for its storage being down
    and moves the process onto in-memory counters, so whatever the body holds, a request that
    names no readable address is counted by its IP."""
    try:
        body = request.get_json(silent=True) if request.is_json else request.form
        email = body.get("email") if isinstance(body, dict) else None
        if isinstance(email, str) and email.strip():
            return "email:" + normalise_email(email)[:320]
    except Exception:  # noqa: BLE001 - see the docstring
        pass
    return "ip:" + get_remote_address()


def _user_or_ip() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "ip:" + get_remote_address()


def _documented(limit):
    """The limit as a view decorator that also tells the OpenAPI document it may answer 429."""
    def decorator(view):
        return apidocs.mark(limit(view), rate_limited=True)
    return decorator


# Shared limits: the API and the pages draw on the same counters.
# Every attempt counts before the password is checked, and a success gives its attempt back
# (``forgive_attempt``): only failed ones add up, and the 11th guess is refused even with the
# right password.
_PASSWORD_SCOPES = ("login-ip", "login-account", "password-check")
login_per_ip = _documented(limiter.shared_limit(FAILED_LOGINS, scope="login-ip"))
login_per_account = _documented(limiter.shared_limit(FAILED_LOGINS, key_func=_email_in_body,
                                                     scope="login-account"))
# Deleting the account, changing the password or the address: the password is checked each time.
password_check = _documented(limiter.shared_limit(FAILED_LOGINS, key_func=_user_or_ip,
                                                  scope="password-check"))
register = _documented(limiter.shared_limit("10 per hour", scope="register",
                                            deduct_when=_reached_the_account_check))
reset_per_ip = _documented(limiter.shared_limit("20 per hour", scope="reset-ip"))
reset_per_account = _documented(limiter.shared_limit("5 per hour", key_func=_email_in_body,
                                                     scope="reset-account"))
verification = _documented(limiter.limit("10 per hour", key_func=_user_or_ip, scope="verify"))
# Checks may be retried without end, but not hammered by a script.
attempts = _documented(limiter.limit("30 per minute", key_func=_user_or_ip, scope="attempts"))
tokens = _documented(limiter.limit("20 per hour", key_func=_user_or_ip, scope="tokens",
                                   methods=["POST"]))
