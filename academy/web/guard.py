"""Who may see a page, and where a form may send them back to.

Pages share the API's session: one sign-in serves both. Every form POST carries a CSRF token
(Flask-WTF), checked here for the whole blueprint; a page that needs sign-in sends a visitor to
``/login?next=<this path>``, and ``next`` is only ever a path on this site.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, redirect, request, url_for
from flask_login import current_user

from ..extensions import csrf


def check_csrf() -> None:
    """Every POST to a page proves it came from one of our forms (one-click unsubscribe is
    exempt: mail clients post it with no cookie and no token)."""
    if request.method == "POST":
        csrf.protect()


def safe_next(target: str | None, default: str = "/dashboard") -> str:
    """``target`` if it is a path on this site, else ``default``: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def redirect_back(target: str | None, default: str | None = None):
    """Redirect to ``target``, a path of this app (what ``signed_in`` puts in ``next``), under
    the path prefix the app is served at; else to ``default`` (a ``url_for`` URL, which
    carries the prefix already), the dashboard unless told."""
    checked = safe_next(target, "")
    if checked:
        return redirect(request.script_root + checked)
    return redirect(default or url_for("web.dashboard"))


def signed_in(view):
    """The page needs a signed-in learner; anyone else goes to sign in and comes back."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapper


def admin_only(view):
    """The page is for administrators: anyone else signed in gets 403."""
    @signed_in
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapper
