"""Rate limits on the doors an attacker knocks on: sign-in, sign-up, password reset, tokens.

Limits count per client address as ``request.remote_addr`` has it: behind reverse proxies, the
real client's, from the ``X-Forwarded-For`` value the trusted proxy appended
(``ACADEMY_PROXY_HOPS``, ``academy.proxy``), never one the client wrote itself.
"""
from __future__ import annotations

import functools

from flask import request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

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
    """The signed-in learner, else the address. Never raises (see ``_email_in_body``): a
    session whose user cannot be loaded (the database gone) is counted by its address."""
    try:
        if current_user.is_authenticated:
            return f"user:{current_user.id}"
    except Exception:  # noqa: BLE001 - the view meets the same failure and answers it
        pass
    return "ip:" + get_remote_address()


def refuse_oversized_body() -> None:
    """413 for a body over ``MAX_CONTENT_LENGTH``, before any limit has counted the request.

    Left to the view, a form too large to read (the sign-in page's) was counted first, by
    address, as its e-mail could not be read: oversized posts used up the attempts of everyone
    behind that address. A chunked body has no length to check, so it is read (into the
    request's cache, where the view finds it): Werkzeug stops at the limit without a word."""
    limit = request.max_content_length
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        if len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()


def _documented(limit):
    """The limit as a view decorator that refuses an oversized body before counting, and tells
    the OpenAPI document the view may answer 429."""
    def decorator(view):
        limited = limit(view)

        @functools.wraps(limited)
        def checked(*args, **kwargs):
            refuse_oversized_body()
            return limited(*args, **kwargs)
        return apidocs.mark(checked, rate_limited=True)
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
