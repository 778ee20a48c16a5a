"""The signed-in learner's own pages: the dashboard and the settings."""
from __future__ import annotations

from flask import current_app, flash, json, redirect, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from ..accounts import limits, service, sessions
from ..accounts.export import export
from ..badges import documents
from ..badges import service as badges
from ..errors import Conflict, Invalid
from ..extensions import db
from ..fields import Email
from ..learning import service as learning
from . import bp
from .forms import SettingsForm, field_errors, zone_options
from .guard import signed_in
from .render import page

HOURS = tuple((str(hour), f"{hour:02d}:00") for hour in range(24))


@bp.get("/dashboard")
@signed_in
def dashboard():
    views, _ = learning.list_enrollments(current_user.id, 1, 100)
    awards = badges.all_awards_of(current_user.id)
    return page("web/dashboard.html", enrollments=views, streak=learning.streak(current_user),
                awards=[{"award": award, "badge": badge_class,
                         "url": documents.assertion_url(award)} for award, badge_class in awards])


def _values(**extra) -> dict:
    user = current_user
    return {"display_name": user.display_name, "timezone": user.timezone,
            "reminder_hour": str(user.reminder_hour),
            "reminders": user.reminders_enabled, "badges": user.badge_emails_enabled, **extra}


def _settings_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    values = values or _values()
    return page("web/settings.html", status, values=values, errors=errors or {},
                zones=zone_options(), hours=HOURS)


@bp.get("/settings")
@signed_in
def settings():
    return _settings_page()


@bp.post("/settings")
@signed_in
def save_settings():
    form = request.form
    values = {"display_name": form.get("display_name", ""), "timezone": form.get("timezone", ""),
              "reminder_hour": form.get("reminder_hour", ""),
              "reminders": form.get("reminders") == "y", "badges": form.get("badges") == "y"}
    try:
        changes = SettingsForm().load({
            "display_name": values["display_name"], "timezone": values["timezone"],
            "reminder_hour": values["reminder_hour"],
            "email_preferences": {"reminders": values["reminders"], "badges": values["badges"]},
        })
    except ValidationError as exc:
        return _settings_page(values, field_errors(exc.messages), 422)
    service.update_profile(current_user, changes)
    db.session.commit()
    flash("Your settings are saved.", "success")
    return redirect(url_for("web.settings"))


@bp.post("/settings/email")
@signed_in
@limits.password_check
def change_email():
    new_email = request.form.get("new_email", "")
    try:
        address = Email().deserialize(new_email)
        service.request_email_change(current_user, request.form.get("email_password", ""),
                                     address)
    except ValidationError as exc:
        return _settings_page(_values(new_email=new_email),
                              {"new_email": field_errors({"email": exc.messages})["email"]}, 422)
    except (Invalid, Conflict) as exc:
        errors = {("new_email" if field == "email" else "email_password"): messages[0]
                  for field, messages in (exc.errors or {}).items()}
        return _settings_page(_values(new_email=new_email), errors, exc.status)
    limits.forgive_attempt()
    db.session.commit()
    flash(f"We sent a link to {address}. Your address changes once you open it.", "success")
    return redirect(url_for("web.settings"))


@bp.post("/settings/password")
@signed_in
@limits.password_check
def change_password():
    user = current_user._get_current_object()
    try:
        service.change_own_password(user, request.form.get("current_password", ""),
                                    request.form.get("new_password", ""))
    except Invalid as exc:
        return _settings_page(errors=field_errors(exc.errors), status=422)
    limits.forgive_attempt()
    db.session.commit()
    # Every other session ended with the old password; this one starts anew.
    sessions.sign_in(user)
    flash("Your password is changed. Every other session and access token has ended.", "success")
    return redirect(url_for("web.settings"))


@bp.get("/settings/export")
@signed_in
def download_export():
    response = current_app.response_class(json.dumps(export(current_user), indent=2),
                                          mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="hirekit-academy-data.json"'
    return response


@bp.post("/settings/delete")
@signed_in
@limits.password_check
def delete_account():
    try:
        service.erase(current_user._get_current_object(), request.form.get("password", ""))
    except Invalid:
        return _settings_page(errors={"password": "The password is not right."}, status=422)
    db.session.commit()
    sessions.sign_out(None)
    flash("Your account is deleted, and your badges are withdrawn.", "success")
    return redirect(url_for("web.home"))
