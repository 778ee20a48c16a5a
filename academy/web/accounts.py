"""The pages account mail links to: ``/verify-email``, ``/reset-password`` and
``/confirm-email-change``.

GET only shows a form (mail scanners prefetch links, so GET must change nothing); the POST
does the work with the same services as the JSON API. A link that cannot work (forged, used,
expired) says so at once, on the GET, instead of showing a form that would only fail.
"""
from __future__ import annotations

from flask import request, url_for

from ..accounts import service
from ..accounts.passwords import password_problem
from ..errors import Conflict, Invalid
from ..extensions import db
from . import bp
from .render import page


def _page(template: str, status: int = 200, **context):
    # The token in the URL is a credential: keep it out of caches and Referer headers.
    return page(template, status, private=True, **context)


def _link_form(kind: str, template: str, action: str):
    token = request.args.get("token", "")
    try:
        service.link_user(kind, token)
    except Invalid as exc:
        return _page(template, 400, error=exc.detail, dead=True)
    return _page(template, token=token, action=url_for(action))


@bp.get("/verify-email")
def verify_email_form():
    return _link_form("verify", "web/verify_email.html", ".verify_email")


@bp.post("/verify-email")
def verify_email():
    try:
        service.verify_email(request.form.get("token", ""))
    except Invalid as exc:
        return _page("web/verify_email.html", 400, error=exc.detail)
    db.session.commit()
    return _page("web/verify_email.html", done=True)


@bp.get("/reset-password")
def reset_password_form():
    return _link_form("reset", "web/reset_password.html", ".reset_password")


@bp.post("/reset-password")
def reset_password():
    token, password = request.form.get("token", ""), request.form.get("password", "")
    try:
        problem = password_problem(password)
        if problem:
            raise Invalid(problem)
        service.confirm_password_reset(token, password)
    except Invalid as exc:
        # The link died while the form was open (used in another tab, expired): say so.
        dead = "token" in (exc.errors or {})
        return _page("web/reset_password.html", 400, error=exc.detail, dead=dead, token=token,
                     action=url_for(".reset_password"))
    db.session.commit()
    return _page("web/reset_password.html", done=True)


@bp.get("/confirm-email-change")
def confirm_email_change_form():
    return _link_form("change-email", "web/confirm_email_change.html", ".confirm_email_change")


@bp.post("/confirm-email-change")
def confirm_email_change():
    try:
        service.confirm_email_change(request.form.get("token", ""))
    except (Invalid, Conflict) as exc:
        return _page("web/confirm_email_change.html", 400, error=exc.detail)
    db.session.commit()
    return _page("web/confirm_email_change.html", done=True)
