"""Sign-up, sign-in, sign-out and the forgotten-password form: the API's services, as pages."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from ..accounts import limits, service, sessions
from ..accounts.schemas import EmailOnlySchema, RegisterSchema
from ..errors import Conflict
from ..extensions import db
from . import bp
from .forms import field_errors, zone_options
from .guard import redirect_back, safe_next
from .render import page


def _signup_page(values: dict, errors: dict, status: int = 200):
    return page("web/signup.html", status, values=values, errors=errors, zones=zone_options(),
                next=safe_next(request.values.get("next"), ""))


@bp.get("/signup")
def signup_form():
    return _signup_page({"timezone": "UTC"}, {})


@bp.post("/signup")
@limits.register
def signup():
    values = {key: request.form.get(key, "") for key in ("email", "display_name", "timezone")}
    try:
        body = RegisterSchema().load({**values, "password": request.form.get("password", "")})
        user = service.register(**body)
    except ValidationError as exc:
        return _signup_page(values, field_errors(exc.messages), 422)
    except Conflict:
        return _signup_page(values, {"email": "An account with this address already exists: "
                                              "sign in, or reset the password."}, 409)
    db.session.commit()
    sessions.sign_in(user)
    flash("Welcome! We sent a link to confirm your email address.", "success")
    return redirect_back(request.form.get("next"), url_for("web.home"))


def _login_page(values: dict, errors: dict, status: int = 200):
    return page("web/login.html", status, values=values, errors=errors,
                next=safe_next(request.values.get("next"), ""))


@bp.get("/login")
def login_form():
    if current_user.is_authenticated:
        return redirect_back(request.args.get("next"))
    return _login_page({}, {})


@bp.post("/login")
@limits.login_per_ip
@limits.login_per_account
def login():
    email, password = request.form.get("email", ""), request.form.get("password", "")
    user = service.authenticate(email, password) if email and password else None
    if user is None:
        # 401, so the failed sign-in counts against the same limits as the API's.
        return _login_page({"email": email}, {"email": "The email or the password is not right."},
                           401)
    limits.forgive_attempt()
    db.session.commit()  # a rehashed password, if the parameters changed
    # The checkbox posts "y" (``ui.checkbox``); a browser never sends an unticked one.
    sessions.sign_in(user, remember=bool(request.form.get("remember")))
    return redirect_back(request.form.get("next"))


@bp.post("/logout")
def logout():
    sessions.sign_out(current_user if current_user.is_authenticated else None)
    flash("You are signed out.", "success")
    return redirect(url_for("web.home"))


@bp.get("/forgot-password")
def forgot_password_form():
    return page("web/forgot_password.html", values={}, errors={})


@bp.post("/forgot-password")
@limits.reset_per_ip
@limits.reset_per_account
def forgot_password():
    email = request.form.get("email", "").strip()
    try:
        EmailOnlySchema().load({"email": email})
        if not email:
            raise ValidationError({"email": ["Enter your email address."]})
    except ValidationError as exc:
        return page("web/forgot_password.html", 422, values={"email": email},
                    errors=field_errors(exc.messages))
    service.request_password_reset(email)
    db.session.commit()
    # The same answer whether or not the address has an account.
    return page("web/forgot_password.html", values={}, errors={}, sent_to=email)
