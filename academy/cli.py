"""``flask --app wsgi academy …``: the operator's commands, grouped by domain."""
from flask.cli import AppGroup

academy_cli = AppGroup("academy", help="HireKit Academy operations.")
