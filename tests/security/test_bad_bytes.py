"""Bytes that once made 500s, with no need to sign in: each is a 4xx problem, never a traceback.

PostgreSQL refuses NUL in text ("A string literal cannot contain NUL") and psycopg refuses to
encode a lone surrogate (JSON "\\ud800"), so these reached the database and came back as 500s;
SQLite takes both, so this file matters most on PostgreSQL. A number of 5,001 digits made the
JSON parser raise a ValueError no one caught.
"""
from __future__ import annotations

import json
import logging
import re

import pytest

from academy.extensions import limiter
from academy.http import MAX_JSON_DEPTH

PROBLEM = "application/problem+json"
SECRET = "a long enough secret"
REGISTER = {"email": "new@example.org", "password": SECRET, "display_name": "New", "timezone": "UTC"}
LONE = "\ud800"  # json.dumps writes it as the escape "\ud800", as an attacker's client would


def body(**fields) -> str:
    return json.dumps(fields)


# (who, method, path, JSON body or None, status, the field a 422 names)
CASES = [
    # Paths and query strings: refused before any view runs.
    ("anyone", "GET", "/api/v1/tracks/basics%00", None, 404, None),
    ("anyone", "GET", "/api/v1/tracks/basics%ED%A0%80", None, 404, None),  # a surrogate's bytes
    ("anyone", "GET", "/api/v1/tracks/basics/lessons/intro%00", None, 404, None),
    ("anyone", "GET", "/api/v1/careers/%00", None, 404, None),
    ("anyone", "GET", "/api/v1/tracks?career=%00", None, 400, None),
    ("anyone", "GET", "/api/v1/tracks?career=%ED%A0%80", None, 400, None),
    ("anyone", "GET", "/api/v1/tracks?career=%FF", None, 400, None),
    ("anyone", "GET", "/api/v1/tracks?page=1&career=a%1Bb", None, 400, None),
    ("learner", "GET", "/api/v1/enrollments/%00", None, 404, None),
    ("learner", "PUT", "/api/v1/enrollments/basics/lessons/intro%00", body(status="completed"), 404, None),
    # Bodies: the schema's string fields refuse NUL, control characters and lone surrogates.
    ("anyone", "POST", "/api/v1/auth/login", body(email="a\x00@example.org", password="x"), 422, "email"),
    ("anyone", "POST", "/api/v1/auth/login", body(email=f"a{LONE}@example.org", password="x"), 422, "email"),
    ("anyone", "POST", "/api/v1/auth/login", body(email="a@example.org", password=f"x{LONE}"), 422,
     "password"),
    ("anyone", "POST", "/api/v1/auth/password-reset", body(email="a\x00@example.org"), 422, "email"),
    ("anyone", "POST", "/api/v1/auth/password-reset", body(email=f"{LONE}@example.org"), 422, "email"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, email=f"a{LONE}@example.org")), 422,
     "email"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, email="a\x00@example.org")), 422,
     "email"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, password=SECRET + LONE)), 422,
     "password"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, display_name=f"Ada{LONE}")), 422,
     "display_name"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, display_name="Ada\x00")), 422,
     "display_name"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, timezone=LONE)), 422, "timezone"),
    ("anyone", "POST", "/api/v1/auth/register", body(**dict(REGISTER, timezone="UTC\x00")), 422,
     "timezone"),
    ("anyone", "POST", "/api/v1/auth/verify-email", body(token=f"t{LONE}"), 422, "token"),
    ("anyone", "POST", "/api/v1/auth/password-reset/confirm", body(token="t\x00", password=SECRET), 422,
     "token"),
    ("learner", "POST", "/api/v1/enrollments", body(track=f"basics{LONE}"), 422, "track"),
    ("learner", "POST", "/api/v1/enrollments", body(track="basics\x00"), 422, "track"),
    ("learner", "POST", "/api/v1/auth/tokens", body(name=f"cli{LONE}"), 422, "name"),
    ("learner", "POST", "/api/v1/auth/tokens", body(name="cli\x00"), 422, "name"),
    ("learner", "PATCH", "/api/v1/me", body(display_name=LONE), 422, "display_name"),
    ("learner", "PATCH", "/api/v1/me", body(timezone=f"Europe/Berlin{LONE}"), 422, "timezone"),
    ("learner", "PATCH", "/api/v1/me", body(timezone="Europe/Berlin\x00"), 422, "timezone"),
    ("learner", "DELETE", "/api/v1/me", body(password=LONE), 422, "password"),
    # Numbers and nesting no field could want.
    ("learner", "PATCH", "/api/v1/me", '{"reminder_hour": ' + "9" * 5001 + "}", 400, None),
    ("learner", "PATCH", "/api/v1/me", '{"reminder_hour": -' + "1" * 5001 + "}", 400, None),
    ("anyone", "POST", "/api/v1/auth/login", '{"email": ' + "1" * 5001 + ', "password": "x"}', 400, None),
    ("learner", "PATCH", "/api/v1/me",
     '{"reminder_hour": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}", 400, None),
]


def _id(case) -> str:
    who, method, path, data, status, field = case
    return f"{method} {path} {field or ''} {(data or '')[:40]!r}"


@pytest.mark.parametrize("who,method,path,data,status,field", CASES, ids=[_id(c) for c in CASES])
def test_bad_bytes_are_a_problem_never_a_500(app, catalog, request, caplog, who, method, path, data,
                                             status, field):
    kwargs = {"data": data, "content_type": "application/json"} if data is not None else {}
    if who == "learner":
        response = request.getfixturevalue("learner").request(method, path, **kwargs)
    else:
        response = app.test_client().open(path, method=method, **kwargs)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    problem = response.get_json()
    assert problem["status"] == status
    if field:
        assert list(problem["errors"]) == [field], problem
        reason = " ".join(problem["errors"][field])
        assert "U+D800" in reason or "U+0000" in reason, reason
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], \
        "a traceback was logged"
    assert not limiter._storage_dead, "the rate limits fell back to per-process counters"


def test_a_page_path_with_nul_gets_the_sites_404_page_like_any_unknown_page(app, catalog, caplog):
    client = app.test_client()
    unknown = client.get("/badges/no-such-badge")
    response = client.get("/badges/%00")
    assert response.status_code == unknown.status_code == 404
    assert response.content_type == unknown.content_type == "text/html; charset=utf-8"
    assert "There is no such page" in response.get_data(as_text=True)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_page_query_with_nul_gets_the_sites_400_page(app, caplog):
    response = app.test_client().get("/verify-email?token=%00")
    assert response.status_code == 400
    assert response.content_type == "text/html; charset=utf-8"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_page_form_with_nul_gets_the_sites_400_page(app, catalog, caplog):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": csrf, "email": "a\x00@example.org",
                                           "password": "x"})
    assert response.status_code == 400
    assert response.content_type == "text/html; charset=utf-8"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("text", ["Zoë", "名前", "a\u200db", "😀", "tab-less, comma, quote\" ok"])
def test_ordinary_text_still_passes(learner, text):
    response = learner.patch("/api/v1/me", json={"display_name": text})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["display_name"] == text
