"""``/api/docs``: the OpenAPI document as a page, drawn here from the same spec, no CDN.

A deployment may have no internet, and a page must work with JavaScript off, so rather than a
vendored JavaScript viewer this renders ``/api/v1/openapi.json`` on the server: each operation
with its parameters, its body and its answers, schemas linked to their definitions.
"""
from __future__ import annotations

from flask import url_for

from ..extensions import api
from . import bp
from .render import page

_METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f"list of {name}" if "items" in schema else name
    return schema.get("type")


def _operations(spec: dict) -> list[dict]:
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = (operation.get("requestBody") or {}).get("content", {})
            operations.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").strip("-"),
                "method": method.upper(), "path": path, "tag": (operation.get("tags") or ["other"])[0],
                "summary": operation.get("summary") or operation.get("description") or "",
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _schema_name(p.get("schema"))}
                               for p in [*item.get("parameters", []), *operation.get("parameters", [])]],
                "body": _schema_name(next(iter(body.values()), {}).get("schema")) if body else None,
                "responses": [{"status": status, "description": answer.get("description", ""),
                               "schema": _schema_name(next(iter(answer.get("content", {}).values()),
                                                           {}).get("schema"))}
                              for status, answer in operation.get("responses", {}).items()],
            })
    return operations


def _fields(schema: dict) -> list[dict]:
    required = set(schema.get("required", []))
    return [{"name": name, "type": _schema_name(prop) or "any", "format": prop.get("format"),
             "required": name in required}
            for name, prop in schema.get("properties", {}).items()]


@bp.get("/api/docs")
def api_docs():
    spec = api.spec.to_dict()
    schemas = spec.get("components", {}).get("schemas", {})
    return page("web/api_docs.html", spec=spec, operations=_operations(spec),
                schemas=[(name, _fields(schema)) for name, schema in sorted(schemas.items())],
                spec_url=url_for("api-docs.openapi_json"))
