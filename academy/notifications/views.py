"""Unsubscribe pages (outside /api/v1): GET asks to confirm, POST is RFC 8058 one-click."""
from __future__ import annotations

from flask import Blueprint, render_template, url_for

from ..extensions import db
from ..http import html_page
from . import service

bp = Blueprint("notifications", __name__, template_folder="templates")

LABELS = {"reminders": "reminder", "badges": "badge"}


@bp.record_once
def _exempt_from_csrf(state) -> None:
    # Mail clients post one-click unsubscribes with no cookie and no token; the signed
    # token in the URL is the proof. Applies if the app protects forms with Flask-WTF.
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)


def _page(template: str, status: int = 200, **context):
    response = html_page(render_template(template, **context), status)
    # The token in the URL is a credential of sorts: keep it out of caches and Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid():
    return _page("notifications/unsubscribe_invalid.html", 404)


@bp.get("/unsubscribe/<token>")
def confirm_unsubscribe(token: str):
    """Ask to confirm; changes nothing, so link scanners that fetch it do no harm."""
    try:
        _, category = service.read_unsubscribe_token(token)
    except service.InvalidUnsubscribeToken:
        return _invalid()
    return _page("notifications/unsubscribe_confirm.html", label=LABELS[category],
                 action=url_for(".unsubscribe", token=token))


@bp.post("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Unsubscribe at once: no cookie, no CSRF token (RFC 8058 one-click)."""
    try:
        category = service.unsubscribe(token)
    except service.InvalidUnsubscribeToken:
        return _invalid()
    db.session.commit()
    return _page("notifications/unsubscribed.html", label=LABELS[category])
