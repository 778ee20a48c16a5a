"""Imports every model, so metadata (and Alembic) sees the whole schema."""
from .badges.models import BadgeClass  # noqa: F401
from .catalog.models import Lesson, Track  # noqa: F401
