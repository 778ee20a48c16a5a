"""Public Open Badges pages (``/badges/…``) and the learner's and admin's badge API."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user, login_required
from flask_smorest import Blueprint as ApiBlueprint

from ..errors import Forbidden
from ..extensions import db
from ..http import html_page
from ..schemas import PageArgs
from ..timeutil import isoformat
from . import documents, service
from .schemas import AwardPageSchema, AwardSchema, RevokeSchema

pages = Blueprint("badges", __name__, url_prefix="/badges", template_folder="templates")
blp = ApiBlueprint("badge_api", __name__, url_prefix="/api/v1", description="Badges")

_JSON_TYPES = ("application/json", "application/ld+json")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match([*_JSON_TYPES, "text/html"])
    return best in _JSON_TYPES and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _json(document: dict, status: int = 200):
    response = jsonify(document)
    response.status_code = status
    if request.accept_mimetypes.best == "application/ld+json":
        response.mimetype = "application/ld+json"
    response.headers["Access-Control-Allow-Origin"] = "*"  # verifiers fetch from anywhere
    response.vary.add("Accept")
    return response


@pages.get("/<public_id>")
def assertion(public_id):
    award, badge_class, user = service.get_award(public_id)
    if award.revoked_at is not None:
        return _json({"revoked": True, "revocationReason": award.revocation_reason}, 410)
    if _wants_json():
        return _json(documents.assertion(award, badge_class))
    response = html_page(render_template(
        "badges/award.html", badge=badge_class, recipient=user.display_name,
        url=documents.assertion_url(award), image=documents.image_url(badge_class),
        issued_on=award.issued_at.strftime("%d %B %Y"),
        linkedin=documents.linkedin_add_url(award, badge_class)))
    response.vary.add("Accept")
    return response


@pages.get("/classes/<slug>")
def badge_class(slug):
    badge_class = service.get_class(slug)
    track = service.track_slug_of(badge_class)
    return _json(documents.badge_class_document(badge_class, track))


@pages.get("/classes/<slug>/image.svg")
def badge_image(slug):
    response = html_page(documents.svg_image(service.get_class(slug)))
    response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@pages.get("/issuer")
def issuer():
    return _json(documents.issuer_document())


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


@blp.route("/me/badges", methods=["GET"])
@login_required
@blp.arguments(PageArgs(), location="query", as_kwargs=True)
@blp.response(200, AwardPageSchema)
def my_badges(page, per_page):
    """The learner's badges, with the public URL to share each one."""
    rows, total = service.awards_of(current_user.id, page, per_page)
    return {"items": [award_dict(a, c) for a, c in rows], "total": total}


@blp.route("/admin/badges/<public_id>/revoke", methods=["POST"])
@login_required
@blp.arguments(RevokeSchema())
@blp.response(200, AwardSchema)
def revoke(body, public_id):
    """Withdraw a badge; its public page answers 410 from now on (admins only)."""
    if not current_user.is_admin:
        raise Forbidden("Only administrators can revoke badges.")
    award, badge_class = service.revoke(public_id, body["reason"])
    db.session.commit()
    return award_dict(award, badge_class)
