"""Public Open Badges pages (``/badges/…``): the share page, and the documents verifiers fetch."""
from __future__ import annotations

from flask import jsonify, render_template, request

from ..badges import documents, service
from ..http import html_page
from . import bp
from .render import page

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


@bp.get("/badges/<public_id>")
def assertion(public_id):
    award, badge_class, user = service.get_award(public_id)
    if award.revoked_at is not None:
        if _wants_json():
            return _json({"revoked": True, "revocationReason": award.revocation_reason}, 410)
        # A browser gets a page saying so, still 410 (the JSON answer is for verifiers).
        response = page("web/badge_revoked.html", 410, badge=badge_class,
                        reason=award.revocation_reason)
        response.vary.add("Accept")
        return response
    evidence = service.evidence_of(award, badge_class)
    if _wants_json():
        return _json(documents.assertion(award, badge_class, evidence))
    response = html_page(render_template(
        "web/badge.html", badge=badge_class, recipient=user.display_name, evidence=evidence,
        url=documents.assertion_url(award), image=documents.image_url(badge_class),
        issued_on=award.issued_at.strftime("%d %B %Y"),
        linkedin=documents.linkedin_add_url(award, badge_class)))
    response.vary.add("Accept")
    return response


@bp.get("/badges/classes/<slug>")
def badge_class(slug):
    badge_class = service.get_class(slug)
    track = service.track_slug_of(badge_class)
    return _json(documents.badge_class_document(badge_class, track))


@bp.get("/badges/classes/<slug>/image.svg")
def badge_image(slug):
    response = html_page(documents.svg_image(service.get_class(slug)))
    response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/badges/issuer")
def issuer():
    return _json(documents.issuer_document())
