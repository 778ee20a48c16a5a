"""HireKit Academy: learning tracks, progress, badges and reminders."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask

from . import config as settings
from .extensions import api, db, limiter, migrate
from .inputs import register_inputs
from .proxy import register_proxy


def create_app(overrides: dict | None = None, environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app; reads as the table of contents of what it is made of.

    Settings come from ``environ`` (the process environment by default), then ``overrides``."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(settings.load(app.instance_path, environ))
    app.config.update(overrides or {})
    configure_logging(app)
    register_inputs(app)
    register_extensions(app)
    register_receivers()
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_proxy(app)  # last: it wraps the finished app's WSGI entry point
    return app


def configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401 - every model registered before migrations look
    from .accounts.auth import register_auth
    from .catalog.views import serve_prepared
    from .celery import celery_init_app
    from .cors import register_cors
    from .http import register_request_rules, skip_limiter_where_no_limit_applies

    db.init_app(app)
    app.teardown_appcontext(_close_session)
    migrate.init_app(app, db, directory=str(settings.ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    api.init_app(app)
    celery_init_app(app)
    # Before the limiter: a body too deep to parse is refused before its key functions read it.
    register_request_rules(app)
    limiter.init_app(app)
    skip_limiter_where_no_limit_applies(app)
    register_auth(app)
    register_cors(app)
    serve_prepared(app)  # catalog answers kept as bytes go out ahead of Flask


def _close_session(exc: BaseException | None) -> None:
    """End the request's session before Flask-SQLAlchemy's own teardown (teardowns run in
    reverse order): a connection the database dropped after the answer was made must not turn
    that answer into a bare 500 from the WSGI server."""
    from sqlalchemy.exc import DBAPIError

    try:
        db.session.remove()
    except DBAPIError:
        logging.getLogger(__name__).warning("database connection lost while closing a session")


def register_receivers() -> None:
    """Connect what each domain does when another announces something (``academy.signals``).

    Importing a receivers module connects its functions; here, so that the web process, the
    worker and the CLI, which all build the app, have every one of them."""
    from .accounts import receivers as _accounts  # noqa: F401
    from .badges import receivers as _badges  # noqa: F401
    from .learning import receivers as _learning  # noqa: F401
    from .notifications import receivers as _notifications  # noqa: F401


def register_blueprints(app: Flask) -> None:
    """The API (one flask-smorest blueprint per domain, all ``bp``) and the pages (``web``)."""
    from .accounts.views import bp as accounts
    from .apidocs import document
    from .badges.views import bp as badges
    from .catalog.views import bp as catalog
    from .health import bp as health
    from .learning.views import bp as learning
    from .web import bp as web

    for blueprint in (accounts, catalog, learning, badges):
        api.register_blueprint(blueprint)
    document(app, api.spec)
    app.register_blueprint(health)
    app.register_blueprint(web)


def register_errorhandlers(app: Flask) -> None:
    # After api.init_app, so these replace flask-smorest's own JSON error handler.
    from .errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from .accounts.commands import users_cli
    from .badges.commands import badges_cli
    from .catalog.commands import content_cli
    from .cli import academy_cli
    from .learning.commands import reminders_cli

    for group in (content_cli, users_cli, badges_cli, reminders_cli):
        if group.name not in academy_cli.commands:
            academy_cli.add_command(group)
    app.cli.add_command(academy_cli)
