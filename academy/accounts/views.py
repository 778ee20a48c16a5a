"""``/api/v1/auth/…`` and ``/api/v1/me``."""
from __future__ import annotations

from flask import g, request
from flask_login import current_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import BadRequest

from ..apidocs import answers
from ..errors import Unauthorized
from ..extensions import db
from . import limits, service, sessions
from .answers import token_dict, user_dict
from .auth import login_required, scoped
from .export import export
from .schemas import (
    AcceptedSchema,
    AccessTokenPageSchema,
    CsrfSchema,
    EmailChangeSchema,
    EmailOnlySchema,
    LoginAnswerSchema,
    LoginSchema,
    NewAccessTokenSchema,
    PasswordChangeSchema,
    PasswordResetConfirmSchema,
    PasswordSchema,
    ProfilePatchSchema,
    RegisterSchema,
    TokenCreateSchema,
    TokenListArgs,
    TokenSchema,
    UserSchema,
)

bp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and sessions")


@bp.route("/auth/register", methods=["POST"])
@answers(409)
@limits.register
@bp.arguments(RegisterSchema())
@bp.response(201, UserSchema)
def register(body):
    """Create an account; a verification mail is sent to the address."""
    user = service.register(**body)
    db.session.commit()
    return user_dict(user)


@bp.route("/auth/verify-email", methods=["POST"])
@bp.arguments(TokenSchema())
@bp.response(204)
def verify_email(body):
    service.verify_email(body["token"])
    db.session.commit()


@bp.route("/auth/verify-email/resend", methods=["POST"])
@login_required
@limits.verification
@bp.response(202, AcceptedSchema)
def resend_verification():
    """Send the verification mail again (at most one a minute)."""
    service.send_verification(current_user)
    db.session.commit()
    return {"detail": "If the address is not confirmed yet, a new link is on its way."}


@bp.route("/auth/login", methods=["POST"])
@limits.login_per_ip
@limits.login_per_account
@bp.arguments(LoginSchema())
@bp.response(200, LoginAnswerSchema)
def login(body):
    """Sign in with a session cookie; unknown email and wrong password answer alike."""
    user = service.authenticate(body["email"], body["password"])
    if user is None:
        raise Unauthorized("The email or the password is not right.")
    limits.forgive_attempt()
    db.session.commit()  # a rehashed password, if the parameters changed
    # A new session: nothing a visitor had before signing in carries over, CSRF token included.
    sessions.sign_in(user, remember=body["remember"])
    return {"user": user_dict(user), "csrf_token": generate_csrf()}


@bp.route("/auth/logout", methods=["POST"])
@bp.response(204)
def logout():
    """End this sign-in: the session and remember cookie stop working, even if replayed."""
    sessions.sign_out(current_user if current_user.is_authenticated else None)


@bp.route("/auth/csrf", methods=["GET"])
@bp.response(200, CsrfSchema)
def csrf_token():
    """The token to send as X-CSRF-Token with cookie-authenticated writes."""
    return {"csrf_token": generate_csrf()}


@bp.route("/auth/password-reset", methods=["POST"])
@limits.reset_per_ip
@limits.reset_per_account
@bp.arguments(EmailOnlySchema())
@bp.response(202, AcceptedSchema)
def password_reset(body):
    """Mail a reset link if the address has an account; the answer is the same either way."""
    service.request_password_reset(body["email"])
    db.session.commit()
    return {"detail": "If the address has an account, a reset link is on its way."}


@bp.route("/auth/password-reset/confirm", methods=["POST"])
@bp.arguments(PasswordResetConfirmSchema())
@bp.response(204)
def password_reset_confirm(body):
    service.confirm_password_reset(body["token"], body["password"])
    db.session.commit()


@bp.route("/auth/tokens", methods=["POST"])
@login_required
@scoped("account")
@limits.tokens
@bp.arguments(TokenCreateSchema())
@bp.response(201, NewAccessTokenSchema)
def create_token(body):
    """A personal access token for ``Authorization: Bearer``; its value is shown only now.

    By default it may do learning only, for 90 days; a token may manage tokens, the password
    or the address only with the ``account`` scope."""
    token, secret = service.create_token(current_user.id, body["name"],
                                         expires_in_days=body["expires_in_days"],
                                         scopes=body["scopes"])
    db.session.commit()
    return token_dict(token, secret)


@bp.route("/auth/tokens", methods=["GET"])
@login_required
@scoped("account")
@bp.arguments(TokenListArgs(), location="query", as_kwargs=True)
@bp.response(200, AccessTokenPageSchema)
def list_tokens(page, per_page):
    tokens, total = service.list_tokens(current_user.id, page, per_page)
    return {"items": [token_dict(t) for t in tokens], "total": total}


@bp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@login_required
@scoped("account")
@bp.response(204)
def delete_token(token_id):
    service.delete_token(current_user.id, token_id)
    db.session.commit()


@bp.route("/me", methods=["GET"])
@login_required
@bp.response(200, UserSchema)
def me():
    return user_dict(current_user)


@bp.route("/me", methods=["PATCH"])
@login_required
@bp.arguments(ProfilePatchSchema())
@bp.response(200, UserSchema)
def update_me(body):
    if not request.get_data():
        raise BadRequest("Send the fields to change as a JSON object.")
    user = service.update_profile(current_user, body)
    db.session.commit()
    return user_dict(user)


@bp.route("/me/export", methods=["GET"])
@login_required
@bp.response(200)
def export_me():
    """Everything stored about the learner, as one JSON document."""
    return export(current_user)


@bp.route("/me", methods=["DELETE"])
@login_required
@scoped("account")
@limits.password_check
@bp.arguments(PasswordSchema())
@bp.response(204)
def delete_me(body):
    """Erase the account's personal data; its public badge pages answer 410 from now on."""
    service.erase(current_user, body["password"])
    db.session.commit()
    sessions.sign_out(None)  # its sign-ins are gone with the account


@bp.route("/me/password", methods=["POST"])
@login_required
@scoped("account")
@limits.password_check
@bp.arguments(PasswordChangeSchema())
@bp.response(204)
def change_password(body):
    """Change the password; every other session, remember cookie and token ends."""
    user = current_user._get_current_object()
    service.change_own_password(user, body["current_password"], body["new_password"],
                                keep_token=g.get("token_id"))
    limits.forgive_attempt()
    db.session.commit()
    if g.get("auth_method") != "token":
        sessions.sign_in(user)  # this session goes on, under a new key


@bp.route("/me/email", methods=["POST"])
@answers(409)
@login_required
@scoped("account")
@limits.password_check
@bp.arguments(EmailChangeSchema())
@bp.response(202, AcceptedSchema)
def change_email(body):
    """Move the account to a new address: it replaces the old one once confirmed from its
    mail; the old address is told at once."""
    service.request_email_change(current_user, body["password"], body["email"])
    limits.forgive_attempt()
    db.session.commit()
    return {"detail": "A confirmation link is on its way to the new address; until it is "
                      "used, the account keeps its current one."}


@bp.route("/me/email/confirm", methods=["POST"])
@answers(409)
@bp.arguments(TokenSchema())
@bp.response(204)
def confirm_email_change(body):
    """Use the link mailed to the new address (no sign-in needed, as for verify-email)."""
    service.confirm_email_change(body["token"])
    db.session.commit()
