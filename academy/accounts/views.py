"""``/api/v1/auth/…`` and ``/api/v1/me``."""
from __future__ import annotations

from flask import session
from flask_login import current_user, login_required, login_user, logout_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf

from ..errors import Unauthorized
from ..extensions import db
from . import limits, service
from .answers import token_dict, user_dict
from .export import export
from .schemas import (
    AccessTokenPageSchema,
    CsrfSchema,
    EmailOnlySchema,
    LoginAnswerSchema,
    LoginSchema,
    NewAccessTokenSchema,
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
@bp.response(202)
def resend_verification():
    """Send the verification mail again (at most one a minute)."""
    service.send_verification(current_user)
    db.session.commit()


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
    db.session.commit()  # a rehashed password, if the parameters changed
    # A new session: nothing a visitor had before signing in carries over, CSRF token included.
    session.clear()
    login_user(user, remember=body["remember"])
    return {"user": user_dict(user), "csrf_token": generate_csrf()}


@bp.route("/auth/logout", methods=["POST"])
@bp.response(204)
def logout():
    session.clear()
    logout_user()  # after clear: it leaves the note that tells Flask-Login to drop the remember cookie


@bp.route("/auth/csrf", methods=["GET"])
@bp.response(200, CsrfSchema)
def csrf_token():
    """The token to send as X-CSRF-Token with cookie-authenticated writes."""
    return {"csrf_token": generate_csrf()}


@bp.route("/auth/password-reset", methods=["POST"])
@limits.reset_per_ip
@limits.reset_per_account
@bp.arguments(EmailOnlySchema())
@bp.response(202)
def password_reset(body):
    """Mail a reset link if the address has an account; the answer is the same either way."""
    service.request_password_reset(body["email"])
    db.session.commit()


@bp.route("/auth/password-reset/confirm", methods=["POST"])
@bp.arguments(PasswordResetConfirmSchema())
@bp.response(204)
def password_reset_confirm(body):
    service.confirm_password_reset(body["token"], body["password"])
    db.session.commit()


@bp.route("/auth/tokens", methods=["POST"])
@login_required
@limits.tokens
@bp.arguments(TokenCreateSchema())
@bp.response(201, NewAccessTokenSchema)
def create_token(body):
    """A personal access token for ``Authorization: Bearer``; its value is shown only now."""
    token, secret = service.create_token(current_user.id, body["name"])
    db.session.commit()
    return token_dict(token, secret)


@bp.route("/auth/tokens", methods=["GET"])
@login_required
@bp.arguments(TokenListArgs(), location="query", as_kwargs=True)
@bp.response(200, AccessTokenPageSchema)
def list_tokens(page, per_page):
    tokens, total = service.list_tokens(current_user.id, page, per_page)
    return {"items": [token_dict(t) for t in tokens], "total": total}


@bp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@login_required
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
@bp.arguments(PasswordSchema())
@bp.response(204)
def delete_me(body):
    """Erase the account's personal data; its public badge pages answer 410 from now on."""
    service.erase(current_user, body["password"])
    db.session.commit()
    session.clear()
    logout_user()
