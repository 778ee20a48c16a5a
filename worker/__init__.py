"""Celery entry point: ``celery -A worker worker`` and ``celery -A worker beat``."""
from academy import create_app

flask_app = create_app()
celery = app = flask_app.extensions["celery"]
