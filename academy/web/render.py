"""How every page answers: rendered from ``templates/web/`` under the strict HTML policy."""
from __future__ import annotations

from flask import render_template

from ..http import html_page


def page(template: str, status: int = 200, *, private: bool = False, **context):
    """Render ``template``; ``private`` for a page whose URL holds a credential (a mail link's
    token): kept out of caches and Referer headers."""
    response = html_page(render_template(template, **context), status)
    if private:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
