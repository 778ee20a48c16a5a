"""Unsubscribe pages (outside /api/v1): GET asks to confirm, POST is RFC 8058 one-click."""
from __future__ import annotations

from flask import url_for

from ..extensions import csrf, db
from ..notifications import service
from . import bp
from .render import page

LABELS = {"reminders": "reminder", "badges": "badge"}


def _page(template: str, status: int = 200, **context):
    # The token in the URL is a credential of sorts: never cached, never sent on as a Referer.
    return page(template, status, private=True, **context)


def _invalid():
    return _page("web/unsubscribe_invalid.html", 404)


@bp.get("/unsubscribe/<token>")
def confirm_unsubscribe(token: str):
    """Ask to confirm; changes nothing, so link scanners that fetch it do no harm."""
    try:
        _, category = service.read_unsubscribe_token(token)
    except service.InvalidUnsubscribeToken:
        return _invalid()
    return _page("web/unsubscribe_confirm.html", label=LABELS[category],
                 action=url_for(".unsubscribe", token=token))


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    """Unsubscribe at once: no cookie, no CSRF token (RFC 8058 one-click).

    Mail clients post it with neither; the random token in the URL is the proof, so it stays
    exempt should the app ever check CSRF tokens on every form. An unknown or expired token
    changes nothing and answers the invalid page (404)."""
    try:
        category = service.unsubscribe(token)
    except service.InvalidUnsubscribeToken:
        return _invalid()
    db.session.commit()
    return _page("web/unsubscribed.html", label=LABELS[category])
