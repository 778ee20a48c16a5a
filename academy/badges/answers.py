"""The badge API's JSON answers."""
from __future__ import annotations

from ..timeutil import isoformat
from . import documents


def award_dict(award, badge_class) -> dict:
    return {
        "id": award.public_id,
        "badge": {"slug": badge_class.slug, "name": badge_class.name,
                  "description": badge_class.description},
        "issued_at": isoformat(award.issued_at),
        "url": documents.assertion_url(award),
        "revoked": award.revoked_at is not None,
        "revocation_reason": award.revocation_reason,
    }
