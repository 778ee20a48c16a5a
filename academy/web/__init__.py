"""The learner's pages: HTML outside ``/api/v1``, on the same services as the API.

One blueprint, ``web``, with its routes in a module per area and its templates in
``templates/web/``. Pages are thin like API views: a form loads input, a service does the work,
a template renders. This package sits above every domain and no domain imports it.
"""
from flask import Blueprint

bp = Blueprint("web", __name__, template_folder="templates")

from . import accounts, badges, unsubscribe  # noqa: E402,F401 - they add their routes to bp
