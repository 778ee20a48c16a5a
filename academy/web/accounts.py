"""The pages account mail links to: ``/verify-email`` and ``/reset-password``.

GET only shows a form (mail scanners prefetch links, so GET must change nothing); the POST
does the work with the same services as the JSON API.
"""
from __future__ import annotations

from flask import request, url_for

from ..accounts import service
from ..accounts.passwords import password_problem
from ..errors import Invalid
from ..extensions import db
from . import bp
from .render import page


def _page(template: str, status: int = 200, **context):
    # The token in the URL is a credential: keep it out of caches and Referer headers.
    return page(template, status, private=True, **context)


@bp.get("/verify-email")
def verify_email_form():
    return _page("web/verify_email.html", token=request.args.get("token", ""),
                 action=url_for(".verify_email"))


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
    return _page("web/reset_password.html", token=request.args.get("token", ""),
                 action=url_for(".reset_password"))


@bp.post("/reset-password")
def reset_password():
    token, password = request.form.get("token", ""), request.form.get("password", "")
    try:
        problem = password_problem(password)
        if problem:
            raise Invalid(problem)
        service.confirm_password_reset(token, password)
    except Invalid as exc:
        return _page("web/reset_password.html", 400, error=exc.detail, token=token,
                     action=url_for(".reset_password"))
    db.session.commit()
    return _page("web/reset_password.html", done=True)
