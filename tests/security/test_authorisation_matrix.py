"""Every endpoint of the OpenAPI document × {anonymous, learner A, learner B, admin}.

B can never read or change A's enrollments, badges or tokens; an admin can reach only the
admin endpoints beyond their own account. A new endpoint without a row here fails the suite.
"""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from academy.accounts.models import TOKEN_SCOPES
from academy.accounts.service import create_token
from academy.badges.models import BadgeAward
from academy.badges.service import reconcile
from academy.learning import service as learning
from tests.helpers.factories import PASSWORD, make_user

_emails = itertools.count()
ROLES = ("anonymous", "A", "B", "admin")

# (method, path): (body, {role: status})
MATRIX = {
    ("POST", "/api/v1/auth/register"): (
        lambda w: {"email": f"new{next(_emails)}@example.org", "password": "a long enough secret",
                   "display_name": "New"}, (201, 201, 201, 201)),
    ("POST", "/api/v1/auth/verify-email"): ({"token": "forged"}, (422, 422, 422, 422)),
    ("POST", "/api/v1/auth/verify-email/resend"): (None, (401, 202, 202, 202)),
    ("POST", "/api/v1/auth/login"): (lambda w: {"email": w["A_email"], "password": "wrong password"},
                                     (401, 401, 401, 401)),
    ("POST", "/api/v1/auth/logout"): (None, (204, 204, 204, 204)),
    ("GET", "/api/v1/auth/csrf"): (None, (200, 200, 200, 200)),
    ("POST", "/api/v1/auth/password-reset"): (lambda w: {"email": w["A_email"]}, (202, 202, 202, 202)),
    ("POST", "/api/v1/auth/password-reset/confirm"): (
        {"token": "forged", "password": "a long enough secret"}, (422, 422, 422, 422)),
    ("POST", "/api/v1/auth/tokens"): ({"name": "new"}, (401, 201, 201, 201)),
    ("GET", "/api/v1/auth/tokens"): (None, (401, 200, 200, 200)),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): (None, (401, 204, 404, 404)),
    ("GET", "/api/v1/me"): (None, (401, 200, 200, 200)),
    ("PATCH", "/api/v1/me"): ({"display_name": "Renamed"}, (401, 200, 200, 200)),
    ("DELETE", "/api/v1/me"): ({"password": PASSWORD}, (401, 204, 204, 204)),
    ("GET", "/api/v1/me/export"): (None, (401, 200, 200, 200)),
    ("POST", "/api/v1/me/password"): ({"current_password": PASSWORD,
                                       "new_password": "another long enough secret"},
                                      (401, 204, 204, 204)),
    ("POST", "/api/v1/me/email"): (lambda w: {"password": PASSWORD,
                                              "email": f"moved{next(_emails)}@example.org"},
                                   (401, 202, 202, 202)),
    ("POST", "/api/v1/me/email/confirm"): ({"token": "forged"}, (422, 422, 422, 422)),
    ("GET", "/api/v1/me/badges"): (None, (401, 200, 200, 200)),
    ("GET", "/api/v1/tracks"): (None, (200, 200, 200, 200)),
    ("GET", "/api/v1/careers"): (None, (200, 200, 200, 200)),
    ("GET", "/api/v1/careers/{slug}"): (None, (404, 404, 404, 404)),
    ("GET", "/api/v1/tracks/{slug}"): (None, (200, 200, 200, 200)),
    ("GET", "/api/v1/tracks/{slug}/lessons/{lesson}"): (None, (200, 200, 200, 200)),
    ("POST", "/api/v1/enrollments"): ({"track": "basics"}, (401, 200, 201, 201)),
    ("GET", "/api/v1/enrollments"): (None, (401, 200, 200, 200)),
    ("GET", "/api/v1/enrollments/{track}"): (None, (401, 200, 404, 404)),
    ("DELETE", "/api/v1/enrollments/{track}"): (None, (401, 204, 404, 404)),
    ("PUT", "/api/v1/enrollments/{track}/lessons/{lesson}"): ({"status": "completed"},
                                                              (401, 200, 409, 409)),
    ("DELETE", "/api/v1/enrollments/{track}/lessons/{lesson}"): (None, (401, 200, 409, 409)),
    # basics/intro is completed by a PUT: A is told so (409), B and the admin are not enrolled.
    ("POST", "/api/v1/enrollments/{track}/lessons/{lesson}/attempts"): (
        {"answers": {"q": ["a"]}}, (401, 409, 409, 409)),
    ("POST", "/api/v1/enrollments/{track}/lessons/{lesson}/evidence"): (
        {"url": "https://github.com/a/b"}, (401, 409, 409, 409)),
    ("GET", "/api/v1/admin/tracks/{slug}/stats"): (None, (401, 403, 403, 200)),
    ("POST", "/api/v1/admin/badges/{public_id}/revoke"): ({"reason": "test"}, (401, 403, 403, 200)),
}


@pytest.fixture
def world(app, catalog):
    """A has finished 'advanced' (a badge) and started 'basics'; B and an admin exist."""
    with app.app_context():
        from academy.extensions import db

        a, b = make_user(), make_user()
        admin = make_user(is_admin=True)
        learning.enroll(a.id, "advanced")
        for lesson in ("models", "serving"):
            learning.complete_lesson(a.id, "advanced", lesson)
        learning.enroll(a.id, "basics")
        learning.complete_lesson(a.id, "basics", "intro")
        db.session.commit()
        reconcile()
        target_token, _ = create_token(a.id, "target")
        world = {"A_email": a.email, "A_id": a.id, "token_id": target_token.id,
                 "public_id": db.session.scalar(select(BadgeAward.public_id))}
        for role, user in (("A", a), ("B", b), ("admin", admin)):
            # Every scope, so that only who the user is decides (tests/accounts/test_scopes.py
            # covers what a narrower token may do).
            world[role] = create_token(user.id, "matrix", scopes=TOKEN_SCOPES)[1]
        db.session.commit()
    return world


def _operations(app) -> set[tuple[str, str]]:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    return {(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method != "parameters"}


def test_every_documented_operation_has_a_row(app):
    assert _operations(app) == set(MATRIX), "add the new endpoint to MATRIX with its statuses"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(MATRIX), ids=lambda op: f"{op[0]} {op[1]}")
def test_matrix(app, world, operation, role):
    method, template = operation
    body, statuses = MATRIX[operation]
    path = template.format(token_id=world["token_id"], public_id=world["public_id"],
                           slug="basics", track="basics", lesson="intro")
    headers = {"Authorization": f"Bearer {world[role]}"} if role != "anonymous" else {}
    json_body = body(world) if callable(body) else body
    response = app.test_client().open(path, method=method, headers=headers, json=json_body)
    expected = statuses[ROLES.index(role)]
    assert response.status_code == expected, response.get_json()
    if role in ("B", "admin"):
        _a_is_untouched(app, world, revoked=(operation, role) == (
            ("POST", "/api/v1/admin/badges/{public_id}/revoke"), "admin"))


def _a_is_untouched(app, world, revoked: bool):
    """Whatever B or an admin did, A's progress, tokens and badge are as they were."""
    a = {"Authorization": f"Bearer {world['A']}"}
    client = app.test_client()
    basics = client.get("/api/v1/enrollments/basics", headers=a).get_json()
    assert basics["status"] == "active" and basics["progress"]["completed_lessons"] == ["intro"]
    tokens = client.get("/api/v1/auth/tokens", headers=a).get_json()
    assert "target" in {t["name"] for t in tokens["items"]}
    badge = client.get("/api/v1/me/badges", headers=a).get_json()["items"][0]
    assert badge["revoked"] is revoked
    assert client.get("/api/v1/me", headers=a).get_json()["display_name"] != "Renamed"
