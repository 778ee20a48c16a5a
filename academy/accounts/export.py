"""``GET /me/export``: everything stored about a learner, in one document.

Accounts writes its own sections; every other domain answers ``signals.learner_exported`` with
the sections of the rows it owns (enrollments and learning days, badges, mail).
"""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..signals import answers, learner_exported
from ..timeutil import isoformat
from .answers import token_dict, user_dict
from .models import AccessToken, User


def export(user: User) -> dict:
    tokens = db.session.scalars(select(AccessToken).where(AccessToken.user_id == user.id))
    return {
        "user": {**user_dict(user), "email_verified_at": isoformat(user.email_verified_at),
                 "updated_at": isoformat(user.updated_at)},
        "access_tokens": [token_dict(t) for t in tokens],
        **answers(learner_exported.send(user)),
    }
