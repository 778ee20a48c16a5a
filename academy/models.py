"""Imports every model, so metadata (and Alembic) sees the whole schema."""
from .accounts.models import AccessToken, User  # noqa: F401
from .badges.models import BadgeAward  # noqa: F401
from .catalog.models import BadgeClass, Lesson, Track  # noqa: F401
from .learning.models import Enrollment, LearningDay, LessonCompletion  # noqa: F401
from .notifications.models import OutboxMessage  # noqa: F401
