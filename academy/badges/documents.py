"""Open Badges 2.0 documents for hosted verification, and each badge class's SVG image."""
from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from flask import current_app

from ..catalog.models import BadgeClass
from ..timeutil import isoformat
from .models import BadgeAward

CONTEXT = "https://w3id.org/openbadges/v2"
ISSUER_NAME = "HireKit Academy"


def _base() -> str:
    return current_app.config["BASE_URL"]


def assertion_url(award: BadgeAward) -> str:
    return f"{_base()}/badges/{award.public_id}"


def class_url(badge_class: BadgeClass) -> str:
    return f"{_base()}/badges/classes/{badge_class.slug}"


def image_url(badge_class: BadgeClass) -> str:
    return f"{class_url(badge_class)}/image.svg"


def issuer_url() -> str:
    return f"{_base()}/badges/issuer"


def assertion(award: BadgeAward, badge_class: BadgeClass, evidence: list[dict] | None = None) -> dict:
    """The hosted Assertion; ``evidence`` (``service.evidence_of``) when the learner submitted any."""
    document = {
        "@context": CONTEXT,
        "type": "Assertion",
        "id": assertion_url(award),
        "recipient": {"type": "email", "hashed": True, "salt": award.recipient_salt,
                      "identity": award.recipient_identity},
        "badge": class_url(badge_class),
        "verification": {"type": "hosted"},
        "issuedOn": isoformat(award.issued_at),
        "image": image_url(badge_class),
    }
    if evidence:
        document["evidence"] = evidence
    return document


def badge_class_document(badge_class: BadgeClass, track_slug: str | None) -> dict:
    criteria = {"narrative": badge_class.criteria}
    if track_slug:
        criteria["id"] = f"{_base()}/tracks/{track_slug}"
    return {
        "@context": CONTEXT,
        "type": "BadgeClass",
        "id": class_url(badge_class),
        "name": badge_class.name,
        "description": badge_class.description,
        "image": image_url(badge_class),
        "criteria": criteria,
        "issuer": issuer_url(),
    }


def issuer_document() -> dict:
    sender = current_app.config["MAIL_FROM"]
    email = sender[sender.find("<") + 1:sender.rfind(">")] if "<" in sender else sender
    return {"@context": CONTEXT, "type": "Profile", "id": issuer_url(), "name": ISSUER_NAME,
            "url": _base(), "email": email}


def linkedin_add_url(award: BadgeAward, badge_class: BadgeClass) -> str:
    """LinkedIn's "add to profile" link for a certification."""
    query = urlencode({
        "startTask": "CERTIFICATION_NAME", "name": badge_class.name,
        "organizationName": ISSUER_NAME, "issueYear": award.issued_at.year,
        "issueMonth": award.issued_at.month, "certUrl": assertion_url(award),
        "certId": award.public_id,
    })
    return f"https://www.linkedin.com/profile/add?{query}"


def svg_image(badge_class: BadgeClass) -> str:
    """A shield with the badge's name, coloured by its slug so classes tell apart at a glance."""
    hue = sum(badge_class.slug.encode()) * 37 % 360
    words = badge_class.name.split()
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) + 1 > 16 and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    text = "".join(
        f'<text x="100" y="{105 + 20 * (i - (len(lines) - 1) / 2):.0f}" font-size="17" '
        f'text-anchor="middle" fill="#fff" font-family="Helvetica, Arial, sans-serif" '
        f'font-weight="bold">{escape(part)}</text>'
        for i, part in enumerate(lines[:4])
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="220" viewBox="0 0 200 220">'
        f'<title>{escape(badge_class.name)}</title>'
        f'<path d="M100 6 L188 40 V110 C188 160 150 196 100 214 C50 196 12 160 12 110 V40 Z" '
        f'fill="hsl({hue},55%,38%)" stroke="hsl({hue},60%,22%)" stroke-width="6"/>'
        f'{text}'
        '<text x="100" y="190" font-size="11" text-anchor="middle" fill="#fff" '
        'font-family="Helvetica, Arial, sans-serif">HireKit Academy</text></svg>'
    )
