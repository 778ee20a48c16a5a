"""What the OpenAPI document says beyond the schemas: who may call an operation, and every
error it can answer.

Views are marked where their rules are declared (``accounts.auth.login_required`` and
``scoped``, the rate limits of ``accounts.limits``, ``answers(409)``); the marks travel out
through every ``functools.wraps`` decorator to the function the route holds. ``document`` then
reads them, with what the operation's own document already says (a body, path parameters,
query arguments), and adds the security requirements and the problem+json responses.
"""
from __future__ import annotations

import http

from flask import Flask
from flask_smorest.spec.plugins import FlaskPlugin

MARKS = "_academy_api"
_UNSAFE = {"post", "put", "patch", "delete"}


def mark(view, **marks):
    """Record ``marks`` (``signed_in``, ``scope``, ``rate_limited``, ``statuses``) on ``view``."""
    recorded = dict(getattr(view, MARKS, {}))
    statuses = set(recorded.get("statuses", ())) | set(marks.pop("statuses", ()))
    recorded.update(marks, statuses=statuses)
    setattr(view, MARKS, recorded)
    return view


def answers(*statuses: int):
    """View decorator: the operation can also answer these error statuses (409, say)."""
    def decorator(view):
        return mark(view, statuses=statuses)
    return decorator


def _response_name(status: int) -> str:
    return http.HTTPStatus(status).name  # as extensions.ProblemApi registers them


def _errors(method: str, operation: dict, marks: dict, has_path_args: bool) -> set[int]:
    errors = set(marks.get("statuses", ()))
    if marks.get("signed_in"):
        errors.add(401)
    if method in _UNSAFE or marks.get("scope"):
        errors.add(403)  # a missing CSRF token, a foreign Origin, a token without the scope
    if "requestBody" in operation:
        errors |= {400, 413, 415, 422}
    if any(p.get("in") == "query" for p in operation.get("parameters", ()) if isinstance(p, dict)):
        errors.add(422)
    if has_path_args:
        errors.add(404)
    if marks.get("rate_limited"):
        errors.add(429)
    return errors


def _security(method: str, marks: dict) -> list[dict]:
    if not marks.get("signed_in"):
        return []
    cookie = {"cookieAuth": [], "csrfToken": []} if method in _UNSAFE else {"cookieAuth": []}
    scope = marks.get("scope")
    return [{"bearerAuth": [scope] if scope else []}, cookie]


def document(app: Flask, spec) -> None:
    """Add security schemes, each operation's security and its error answers to ``spec``."""
    components = spec.components
    components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A personal access token from POST /api/v1/auth/tokens. Its scopes "
                       "(learning, account, admin) limit what it may do; operations that "
                       "need more than learning name the scope."})
    components.security_scheme("cookieAuth", {
        "type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session"),
        "description": "The session cookie from POST /api/v1/auth/login."})
    components.security_scheme("csrfToken", {
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "Cookie-authenticated writes carry the token from the login answer or "
                       "GET /api/v1/auth/csrf."})
    paths = spec._paths  # apispec keeps registered paths here until to_dict()
    for rule in app.url_map.iter_rules():
        operations = paths.get(FlaskPlugin.flaskpath2openapi(rule.rule))
        if not operations:
            continue
        marks = getattr(app.view_functions[rule.endpoint], MARKS, {})
        for method in {m.lower() for m in rule.methods or ()} & set(operations):
            operation = operations[method]
            operation["security"] = _security(method, marks)
            responses = operation.setdefault("responses", {})
            for status in sorted(_errors(method, operation, marks, bool(rule.arguments))):
                responses.setdefault(str(status),
                                     components.get_ref("response", _response_name(status)))
