"""Every error is application/problem+json, whatever raised it."""
from __future__ import annotations

import logging

import pytest
from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields

from academy.errors import Conflict
from tests.helpers.app import dispose, make_app, restore


class ProbeSchema(Schema):
    name = fields.String(required=True)
    count = fields.Integer(strict=True)


@pytest.fixture(scope="module")
def probe(app, instance_dir, database_url):
    """An app with a few extra routes that raise each kind of error."""
    session_app, app = app, make_app(instance_dir, database_url)
    bp = Blueprint("probe", __name__, url_prefix="/api/v1/_probe")

    @bp.post("")
    def echo():
        return jsonify(ProbeSchema().load(request.get_json()))

    @bp.get("/conflict")
    def conflict():
        raise Conflict("That clashes with something.")

    @bp.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.register_blueprint(bp)
    yield app.test_client()
    dispose(app)
    restore(session_app)


def assert_problem(response, status):
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


def test_valid_body_passes(probe):
    assert probe.post("/api/v1/_probe", json={"name": "x"}).get_json() == {"name": "x"}


def test_wrong_type_and_unknown_field_are_422_by_field(probe):
    body = assert_problem(probe.post("/api/v1/_probe", json={"name": 3, "count": "2", "extra": 1}), 422)
    assert set(body["errors"]) == {"name", "count", "extra"}
    assert body["errors"]["extra"] == ["Unknown field."]


def test_malformed_json_is_400(probe):
    assert_problem(probe.post("/api/v1/_probe", data="{nope", content_type="application/json"), 400)


def test_non_json_body_is_415(probe):
    assert_problem(probe.post("/api/v1/_probe", data="name=x", content_type="text/plain"), 415)
    assert_problem(probe.post("/api/v1/_probe", data={"name": "x"}), 415)


def test_oversized_body_is_413(probe):
    big = '{"name": "' + "x" * (65 * 1024) + '"}'
    assert_problem(probe.post("/api/v1/_probe", data=big, content_type="application/json"), 413)


def test_domain_error_maps_to_its_status(probe):
    body = assert_problem(probe.get("/api/v1/_probe/conflict"), 409)
    assert body["detail"] == "That clashes with something."


def test_unexpected_error_is_a_500_that_leaks_nothing(probe, caplog):
    with caplog.at_level(logging.ERROR):
        body = assert_problem(probe.get("/api/v1/_probe/boom"), 500)
    assert "secret internals" not in str(body)
    assert "secret internals" in caplog.text  # but the operator sees it in the log
