"""The learner's pages: HTML outside ``/api/v1``, on the same services as the API.

One blueprint, ``web``, with its routes in a module per area, its templates in
``templates/web/`` and its stylesheet in ``static/``. Pages are thin like API views: a form
loads input, a service does the work, a template renders. This package sits above every domain
and no domain imports it.
"""
from flask import Blueprint, request

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")

from . import (  # noqa: E402,F401 - they add their routes to bp
    accounts,
    admin,
    badges,
    catalog,
    docs,
    errors,
    guard,
    learner,
    session,
    unsubscribe,
)

# Forms that a signed mail token already proves (and the one-click unsubscribe, which mail
# clients post with no cookie) are the only POSTs without a CSRF token.
_TOKEN_FORMS = {"web.verify_email", "web.reset_password", "web.unsubscribe"}


@bp.before_request
def _check_csrf() -> None:
    if request.endpoint not in _TOKEN_FORMS:
        guard.check_csrf()
