"""Cross-origin calls to the API from the front-ends ``ACADEMY_CORS_ORIGINS`` names.

A listed origin may call ``/api/`` with credentials (the session cookie, or a Bearer token):
its preflight is answered, and answers carry ``Access-Control-Allow-Origin`` naming it. Every
other origin gets no CORS header at all, so browsers keep refusing to show it our answers, and
its preflights answer 403. Cookie writes still need ``X-CSRF-Token`` (``accounts.auth`` accepts
exactly these origins in its Origin check); the token comes from the login answer or
``GET /api/v1/auth/csrf``, which a listed origin can read.
"""
from __future__ import annotations

from flask import Flask, current_app, request

from .errors import problem

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, X-CSRF-Token"
# What a front-end may read beyond the simple headers: when to retry, where a thing went.
EXPOSED_HEADERS = "Retry-After, Location, ETag"
PREFLIGHT_MAX_AGE = "600"


def allowed_origin(origin: str | None) -> bool:
    return bool(origin) and origin.lower() in current_app.config.get("CORS_ORIGINS", ())


def _preflight():
    if (request.method != "OPTIONS" or not request.path.startswith("/api/")
            or "Access-Control-Request-Method" not in request.headers):
        return None
    origin = request.headers.get("Origin")
    if not allowed_origin(origin):
        return problem(403, "This origin may not call the API from a browser.")
    response = current_app.response_class(status=204)
    response.headers.update({
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    })
    return response


def _cors_headers(response):
    if not request.path.startswith("/api/"):
        return response
    response.vary.add("Origin")  # the same URL answers differently per origin
    origin = request.headers.get("Origin")
    if allowed_origin(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if request.method != "OPTIONS":
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def register_cors(app: Flask) -> None:
    if not app.config.get("CORS_ORIGINS"):
        return  # nothing to allow: no header, no Vary, as before
    # First, so that a preflight meets neither the token check nor the rate limits.
    app.before_request_funcs.setdefault(None, []).insert(0, _preflight)
    app.after_request(_cors_headers)
