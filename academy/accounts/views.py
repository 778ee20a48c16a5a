"""``/api/v1/auth/…`` and ``/api/v1/me``."""
from __future__ import annotations

from flask import session
from flask_login import current_user, login_required, login_user, logout_user
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf

from ..errors import Unauthorized
from ..extensions import db
from ..timeutil import isoformat
from . import limits, service
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

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and sessions")


def user_dict(user) -> dict:
    from ..learning.service import streak

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
        "streak": streak(user),
        "created_at": isoformat(user.created_at),
    }


def token_dict(token, secret: str | None = None) -> dict:
    data = {"id": token.id, "name": token.name, "prefix": token.prefix,
            "created_at": isoformat(token.created_at), "last_used_at": isoformat(token.last_used_at)}
    if secret:
        data["token"] = secret
    return data


@blp.route("/auth/register", methods=["POST"])
@limits.register
@blp.arguments(RegisterSchema())
@blp.response(201, UserSchema)
def register(body):
    """Create an account; a verification mail is sent to the address."""
    user = service.register(**body)
    db.session.commit()
    return user_dict(user)


@blp.route("/auth/verify-email", methods=["POST"])
@blp.arguments(TokenSchema())
@blp.response(204)
def verify_email(body):
    service.verify_email(body["token"])
    db.session.commit()


@blp.route("/auth/verify-email/resend", methods=["POST"])
@login_required
@limits.verification
@blp.response(202)
def resend_verification():
    """Send the verification mail again (at most one a minute)."""
    service.send_verification(current_user)
    db.session.commit()


@blp.route("/auth/login", methods=["POST"])
@limits.login_per_ip
@limits.login_per_account
@blp.arguments(LoginSchema())
@blp.response(200, LoginAnswerSchema)
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


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
def logout():
    session.clear()
    logout_user()  # after clear: it leaves the note that tells Flask-Login to drop the remember cookie


@blp.route("/auth/csrf", methods=["GET"])
@blp.response(200, CsrfSchema)
def csrf_token():
    """The token to send as X-CSRF-Token with cookie-authenticated writes."""
    return {"csrf_token": generate_csrf()}


@blp.route("/auth/password-reset", methods=["POST"])
@limits.reset_per_ip
@limits.reset_per_account
@blp.arguments(EmailOnlySchema())
@blp.response(202)
def password_reset(body):
    """Mail a reset link if the address has an account; the answer is the same either way."""
    service.request_password_reset(body["email"])
    db.session.commit()


@blp.route("/auth/password-reset/confirm", methods=["POST"])
@blp.arguments(PasswordResetConfirmSchema())
@blp.response(204)
def password_reset_confirm(body):
    service.confirm_password_reset(body["token"], body["password"])
    db.session.commit()


@blp.route("/auth/tokens", methods=["POST"])
@login_required
@limits.tokens
@blp.arguments(TokenCreateSchema())
@blp.response(201, NewAccessTokenSchema)
def create_token(body):
    """A personal access token for ``Authorization: Bearer``; its value is shown only now."""
    token, secret = service.create_token(current_user.id, body["name"])
    db.session.commit()
    return token_dict(token, secret)


@blp.route("/auth/tokens", methods=["GET"])
@login_required
@blp.arguments(TokenListArgs(), location="query", as_kwargs=True)
@blp.response(200, AccessTokenPageSchema)
def list_tokens(page, per_page):
    tokens, total = service.list_tokens(current_user.id, page, per_page)
    return {"items": [token_dict(t) for t in tokens], "total": total}


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@login_required
@blp.response(204)
def delete_token(token_id):
    service.delete_token(current_user.id, token_id)
    db.session.commit()


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, UserSchema)
def me():
    return user_dict(current_user)


@blp.route("/me", methods=["PATCH"])
@login_required
@blp.arguments(ProfilePatchSchema())
@blp.response(200, UserSchema)
def update_me(body):
    user = service.update_profile(current_user, body)
    db.session.commit()
    return user_dict(user)


@blp.route("/me/export", methods=["GET"])
@login_required
@blp.response(200)
def export_me():
    """Everything stored about the learner, as one JSON document."""
    from .export import export

    return export(current_user)


@blp.route("/me", methods=["DELETE"])
@login_required
@blp.arguments(PasswordSchema())
@blp.response(204)
def delete_me(body):
    """Erase the account's personal data; its public badge pages answer 410 from now on."""
    service.erase(current_user, body["password"])
    db.session.commit()
    session.clear()
    logout_user()
