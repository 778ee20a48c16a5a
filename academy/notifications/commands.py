"""``academy reminders …``."""
from flask.cli import AppGroup

reminders_cli = AppGroup("reminders", help="Inactivity reminders.")
