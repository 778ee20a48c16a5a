"""Badge rules: who has earned what, awarding exactly once, revocation, and reconciliation."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import and_, func, select

from ..accounts.models import User
from ..catalog.models import BadgeClass, Track
from ..dbutil import call_after_commit, insert_ignore
from ..errors import NotFound
from ..extensions import db
from ..learning import checks
from ..learning.models import Enrollment
from ..notifications.service import queue_mail
from ..timeutil import isoformat, utcnow
from .emails import badge_earned
from .models import BadgeAward


def track_completed(enrollment_id: int) -> None:
    """Called in the transaction that completes a track: award once it has committed."""
    from .tasks import award_for_enrollment

    call_after_commit(f"badge-award:{enrollment_id}",
                      lambda: award_for_enrollment.delay(enrollment_id))


def award_for_enrollment(enrollment_id: int) -> list[BadgeAward]:
    """Award the track badge of a completed enrollment, then the career badge if now due."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.completed_at is None:
        return []
    track = db.session.get(Track, enrollment.track_id)
    awarded = []
    badge_class = db.session.scalar(select(BadgeClass).where(BadgeClass.track_id == track.id))
    if badge_class is not None:
        awarded += _award(enrollment.user_id, badge_class)
    awarded += _award_career_if_due(enrollment.user_id, track.career)
    return awarded


def _award(user_id: int, badge_class: BadgeClass) -> list[BadgeAward]:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or not user.email:
        return []
    salt = secrets.token_hex(8)
    identity = "sha256$" + hashlib.sha256((user.email + salt).encode()).hexdigest()
    # The unique (user, badge class) key makes this exactly-once, whatever retries or races do.
    created = insert_ignore(BadgeAward, {
        "public_id": secrets.token_urlsafe(16), "user_id": user_id,
        "badge_class_id": badge_class.id, "issued_at": utcnow(),
        "recipient_salt": salt, "recipient_identity": identity,
    }, ["user_id", "badge_class_id"])
    if not created:
        return []
    award = db.session.scalar(select(BadgeAward).where(
        BadgeAward.user_id == user_id, BadgeAward.badge_class_id == badge_class.id))
    _mail_award(user, badge_class, award)
    return [award]


def _mail_award(user: User, badge_class: BadgeClass, award: BadgeAward) -> None:
    """A "badge earned" mail in the award's own transaction, keyed so it is written once."""
    if not (user.badge_emails_enabled and user.email_verified):
        return
    queue_mail("badge_earned", user.email, badge_earned(user, badge_class, award),
               key=f"badge:{award.id}", user_id=user.id, category="badge")


def _career_tracks(career: str) -> list[int]:
    return list(db.session.scalars(
        select(Track.id).where(Track.career == career, Track.retired_at.is_(None))))


def _award_career_if_due(user_id: int, career: str) -> list[BadgeAward]:
    badge_class = db.session.scalar(select(BadgeClass).where(BadgeClass.career == career))
    tracks = _career_tracks(career)
    if badge_class is None or not tracks:
        return []
    done = db.session.scalar(select(func.count()).select_from(Enrollment).where(
        Enrollment.user_id == user_id, Enrollment.track_id.in_(tracks),
        Enrollment.completed_at.is_not(None)))
    return _award(user_id, badge_class) if done == len(tracks) else []


def reconcile() -> list[BadgeAward]:
    """Award every badge that is due and missing: a lost broker message loses no badge."""
    missing = db.session.scalars(
        select(Enrollment.id)
        .join(User, User.id == Enrollment.user_id)
        .join(BadgeClass, BadgeClass.track_id == Enrollment.track_id)
        .outerjoin(BadgeAward, and_(BadgeAward.user_id == Enrollment.user_id,
                                    BadgeAward.badge_class_id == BadgeClass.id))
        .where(Enrollment.completed_at.is_not(None), BadgeAward.id.is_(None),
               User.erased_at.is_(None))
    ).all()
    awarded = []
    for enrollment_id in missing:
        awarded += award_for_enrollment(enrollment_id)
    awarded += _reconcile_careers()
    return awarded


def _reconcile_careers() -> list[BadgeAward]:
    awarded = []
    for badge_class in db.session.scalars(select(BadgeClass).where(BadgeClass.career.is_not(None))):
        tracks = _career_tracks(badge_class.career)
        if not tracks:
            continue
        due = db.session.scalars(
            select(Enrollment.user_id)
            .join(User, User.id == Enrollment.user_id)
            .outerjoin(BadgeAward, and_(BadgeAward.user_id == Enrollment.user_id,
                                        BadgeAward.badge_class_id == badge_class.id))
            .where(Enrollment.track_id.in_(tracks), Enrollment.completed_at.is_not(None),
                   BadgeAward.id.is_(None), User.erased_at.is_(None))
            .group_by(Enrollment.user_id)
            .having(func.count() == len(tracks))
        ).all()
        for user_id in due:
            awarded += _award(user_id, badge_class)
    return awarded


# -- reading and revoking ------------------------------------------------------------------

def get_award(public_id: str) -> tuple[BadgeAward, BadgeClass, User]:
    row = db.session.execute(
        select(BadgeAward, BadgeClass, User).join(BadgeClass).join(User, User.id == BadgeAward.user_id)
        .where(BadgeAward.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound("There is no such badge.")
    return row[0], row[1], row[2]


def get_class(slug: str) -> BadgeClass:
    badge_class = db.session.scalar(select(BadgeClass).where(BadgeClass.slug == slug))
    if badge_class is None:
        raise NotFound("There is no such badge class.")
    return badge_class


def evidence_of(award: BadgeAward, badge_class: BadgeClass) -> list[dict]:
    """What the learner submitted on the way to this badge, as Open Badges ``evidence``: a
    track's project links, or for a career badge those of all its tracks."""
    if badge_class.track_id is not None:
        track_ids = [badge_class.track_id]
    else:
        track_ids = _career_tracks(badge_class.career) if badge_class.career else []
    return checks.evidence_of(award.user_id, track_ids)


def track_slug_of(badge_class: BadgeClass) -> str | None:
    if badge_class.track_id is None:
        return None
    return db.session.scalar(select(Track.slug).where(Track.id == badge_class.track_id))


def _awards(user_id: int, limit: int, offset: int = 0):
    return db.session.execute(
        select(BadgeAward, BadgeClass).join(BadgeClass).where(BadgeAward.user_id == user_id)
        .order_by(BadgeAward.issued_at, BadgeAward.id).limit(limit).offset(offset)).all()


def awards_of(user_id: int, page: int, per_page: int):
    total = db.session.scalar(select(func.count()).select_from(BadgeAward)
                              .where(BadgeAward.user_id == user_id))
    return _awards(user_id, per_page, (page - 1) * per_page), total


def all_awards_of(user_id: int, limit: int = 100):
    """The learner's awards with their classes, oldest first, in one statement (the dashboard)."""
    return _awards(user_id, limit)


def revoke(public_id: str, reason: str) -> tuple[BadgeAward, BadgeClass]:
    award, badge_class, _ = get_award(public_id)
    if award.revoked_at is None:
        award.revoked_at = utcnow()
        award.revocation_reason = reason
    return award, badge_class


def erase_recipient(user_id: int) -> None:
    """On account erasure: every award is withdrawn and stops naming its recipient."""
    now = utcnow()
    for award in db.session.scalars(select(BadgeAward).where(BadgeAward.user_id == user_id)):
        award.revoked_at = award.revoked_at or now
        award.revocation_reason = "The recipient deleted their account."
        award.recipient_identity = ""
        award.recipient_salt = ""


def export_of(user_id: int) -> list[dict]:
    """The learner's awards as the data export lists them."""
    return [{
        "id": award.public_id, "badge": badge_class.slug, "issued_at": isoformat(award.issued_at),
        "revoked_at": isoformat(award.revoked_at),
    } for award, badge_class in db.session.execute(
        select(BadgeAward, BadgeClass).join(BadgeClass).where(BadgeAward.user_id == user_id))]
